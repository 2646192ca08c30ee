// The dashboard's entry: session check, sign-in form, frame, routing.

import { setUnauthenticatedHandler } from "./api.js";
import { errorBox } from "./components/notice.js";
import { h, field, replace } from "./dom.js";
import { frame } from "./layout.js";
import { connectLive, disconnectLive } from "./live.js";
import { pages } from "./pages/index.js";
import { Context, match, parseHash, route } from "./router.js";
import { can, loadSession, session, signIn, signOut } from "./session.js";

const root = document.getElementById("app");
let layout = null;
let current = null; // Context of the shown page

for (const page of pages) route(page.path, page);

function notFound(main, path) {
  replace(main, h("h1", {}, "Not found"), h("p", {}, "There is no page at ", h("code", {}, path), ". ",
    h("a", { href: "#/" }, "Back to the overview")));
}

async function show() {
  if (!session.user) return;
  const { path, query } = parseHash();
  current?.dispose();
  const ctx = new Context({}, query);
  current = ctx;
  layout.select(path);
  const found = match(path);
  const main = layout.main;
  replace(main);
  if (!found) {
    document.title = "Not found · Ampyre";
    notFound(main, path);
    return;
  }
  const page = found.route.page;
  ctx.params = found.params;
  const title = typeof page.title === "function" ? page.title(found.params) : page.title;
  document.title = `${title} · Ampyre`;
  if (!can(page.role || "viewer")) {
    replace(main, h("h1", {}, title), h("p", { role: "alert" }, `This page needs the ${page.role} role.`));
    return;
  }
  main.setAttribute("aria-busy", "true");
  try {
    await page.render(main, ctx);
  } catch (err) {
    if (ctx.alive) main.append(errorBox(err));
  } finally {
    main.removeAttribute("aria-busy");
  }
  if (ctx.alive && document.activeElement === document.body) main.focus({ preventScroll: true });
}

function showSignIn(message) {
  current?.dispose();
  current = null;
  layout = null;
  disconnectLive();
  document.title = "Sign in · Ampyre";
  const user = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const errors = h("div", { "aria-live": "assertive" }, message ? h("p", { class: "notice" }, message) : null);
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", {
    class: "signin card",
    onsubmit: async (event) => {
      event.preventDefault();
      errors.replaceChildren();
      button.disabled = true;
      try {
        await signIn(user.value.trim(), password.value);
        password.value = "";
        start();
      } catch (err) {
        errors.append(errorBox(err));
        password.select();
      } finally {
        button.disabled = false;
      }
    },
  },
  h("h1", {}, h("img", { src: "/ui/icon.svg", alt: "", width: 32, height: 32 }), " Ampyre"),
  h("p", { class: "muted" }, "Sign in to the operator dashboard."),
  field("User name", user),
  field("Password", password),
  errors,
  button);
  replace(root, h("main", { id: "main", class: "signin-page" }, form));
  root.removeAttribute("aria-busy");
  user.focus();
}

function start() {
  layout = frame(pages, {
    onSignOut: async () => {
      await signOut().catch(() => {});
      showSignIn("You are signed out.");
    },
  });
  replace(root, layout.el);
  root.removeAttribute("aria-busy");
  connectLive();
  show();
}

// A 401 from any request means the session is gone (expired, revoked, user disabled).
// Forget it first: the page's other requests in flight answer 401 too, and must not
// rebuild the sign-in form under the user's typing.
setUnauthenticatedHandler(() => {
  if (!session.user) return;
  session.user = null;
  showSignIn("Your session has ended. Please sign in again.");
});

window.addEventListener("hashchange", () => {
  if (layout) show();
});

(async () => {
  try {
    const user = await loadSession();
    if (user) start();
    else showSignIn();
  } catch (err) {
    replace(root, h("main", { id: "main" }, h("h1", {}, "Ampyre"), errorBox(err)));
  }
})();

// Who is signed in. The server decides what a role may do (and refuses the rest); the UI
// uses `can()` only so that it does not offer what would be refused.

import { api, setCsrfToken } from "./api.js";

const RANK = { viewer: 0, operator: 1, admin: 2 };

export const session = {
  user: null, // {id, name, role}
  expiresAt: null,
};

function adopt(data) {
  session.user = data?.user || null;
  session.expiresAt = data?.expires_at || null;
  setCsrfToken(data?.csrf_token || null);
  return session.user;
}

/** The current session, or null when signed out. */
export async function loadSession() {
  try {
    return adopt(await api.get("/session", null, { quiet401: true }));
  } catch (err) {
    if (err.status === 401) return adopt(null);
    throw err;
  }
}

export async function signIn(username, password) {
  return adopt(await api.post("/session", { username, password }, { quiet401: true }));
}

export async function signOut() {
  try {
    await api.del("/session", { quiet401: true });
  } finally {
    adopt(null);
  }
}

/** Does the signed-in user have at least `role` ("viewer" | "operator" | "admin")? */
export function can(role) {
  return session.user !== null && RANK[session.user.role] >= RANK[role];
}

"""OCPI 2.2.1 CDRs (issue 20).

As CPO: a CDR is made when a transaction ends (the sessions consumer asks for it): for a
roaming token always, for a local token when a tariff priced the transaction and
`ocpi_cdr_local_transactions` is on (for the operator's own billing; never pushed). It is
priced by the tariff engine with the charging periods that justify the cost, sealed
(stored as the OCPI object, never changed: mod_cdrs 10.1) and, for a roaming token,
POSTed to the eMSP that owns the token (mod_cdrs 10.1.3 push model) and served to it by
the Sender GET. A correction is a credit CDR (mod_cdrs 10.1.1: the same data, id
`<id>-C`, total_cost negated), optionally followed by a new CDR (`<pk>-2`, ...) priced
again.

As eMSP: CDRs CPO partners POST are stored (idempotently: the same CDR again is
accepted, another CDR under a used id is refused) and served back by their URL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ampyre.domain.cdrs import (
    CdrConflict,
    CdrFacts,
    CdrInvalid,
    StoredCdr,
    cdr_object,
    credit_id,
    credit_object,
    reissue_id,
    summarize,
    unpriced,
)
from ampyre.domain.models import Page
from ampyre.domain.ocpi import Partner
from ampyre.domain.ocpi_sessions import (
    OURS,
    RECEIVED,
    AuthMethod,
    CdrToken,
    TokenGrant,
    grant_of,
    kwh_of_wh,
    token_type_of,
)
from ampyre.domain.transactions import Transaction, TransactionStatus
from ampyre.services.clock import utcnow
from ampyre.services.ocpi_sessions import TransactionReader
from ampyre.services.roaming_port import CdrQuery, RoamingLinks, RoamingStore

log = logging.getLogger(__name__)

UID_MAX = 36  # mod_cdrs CdrToken.uid CiString(36)


class CdrNotFound(LookupError):
    pass


class CdrService:
    def __init__(
        self,
        store: RoamingStore,
        transactions: TransactionReader,
        links: RoamingLinks,
        *,
        local_transactions: bool = True,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._transactions = transactions
        self._links = links
        self._local = local_transactions
        self._clock = clock

    # ------------------------------------------------------------------ CPO: making CDRs

    async def create_for_transaction(self, transaction_pk: int) -> StoredCdr | None:
        """The CDR of an ended transaction (made once: an existing one is returned);
        None when the transaction is unknown, still running, or gets no CDR (a local
        token no tariff priced, or local CDRs off)."""
        existing = await self._store.cdrs_of_transaction(transaction_pk)
        if existing:
            return existing[0]
        tx = await self._transactions.get(transaction_pk)
        if tx is None or tx.status is not TransactionStatus.ENDED:
            return None
        grant = await self._grant(tx)
        return await self._make(tx, grant, reissue_id(tx.id, 1), require_price=grant is None)

    async def _grant(self, tx: Transaction) -> TokenGrant | None:
        """How the transaction's token was let in, as its OCPI Session recorded it (else
        asked again); None for a local token."""
        sessions = await self._store.sessions_of_transactions([tx.id])
        session = sessions.get(tx.id)
        if session is not None:
            return grant_of(session.body)
        if not tx.id_token:
            return None
        return await self._links.roaming_token(
            tx.id_token, tx.station_id, tx.remote_start_id is not None
        )

    def _local_grant(self, tx: Transaction) -> TokenGrant:
        """A local token as a CdrToken: we are its eMSP. A transaction without a token
        (free vend) is named #NA."""
        cc, pid = self._links.our_party
        uid = (tx.id_token or "#NA")[:UID_MAX]
        token = CdrToken(cc, pid, uid, token_type_of(tx.id_token_type), uid)
        # Ampyre itself let the token in (its own list): no request went to an eMSP.
        return TokenGrant(token, AuthMethod.WHITELIST)

    async def _make(
        self,
        tx: Transaction,
        grant: TokenGrant | None,
        cdr_id: str,
        *,
        require_price: bool,
        remark: str | None = None,
    ) -> StoredCdr | None:
        if grant is None and not self._local:
            return None
        pricing = await self._links.price(tx.id)
        if pricing is None and require_price:
            return None
        now = self._clock()
        start = tx.started_at or tx.created_at or now
        end = max(tx.ended_at or now, start)
        if pricing is None:
            pricing = unpriced(start, end, kwh_of_wh(tx.energy_wh), self._links.default_currency())
        roaming = grant is not None
        grant = grant or self._local_grant(tx)
        cc, pid = self._links.our_party
        facts = CdrFacts(
            country_code=cc,
            party_id=pid,
            cdr_id=cdr_id,
            start=start,
            end=end,
            token=grant.token,
            auth_method=grant.auth_method,
            authorization_reference=grant.authorization_reference,
            location=await self._links.cdr_location(tx.station_id, tx.evse_id, tx.connector_id),
            pricing=pricing,
            last_updated=now,
            session_id=str(tx.id) if roaming else None,
            remark=remark if remark is not None else _remark(tx),
        )
        body = cdr_object(facts)
        owner = grant.token.owner
        partner_id = await self._links.partner_of(owner) if roaming else None
        stored = StoredCdr(
            id=0,
            side=OURS,
            summary=summarize(body),
            body=body,
            transaction_pk=tx.id,
            partner_id=partner_id,
            created_at=now,
        )
        try:
            stored = await self._store.add_cdr(stored)
        except CdrConflict:
            # Made meanwhile by another process (or an earlier run): that one stands.
            return await self._store.find_cdr(OURS, cc, pid, cdr_id)
        if roaming:
            await self._post(stored)
        return stored

    async def _post(self, cdr: StoredCdr) -> None:
        s = cdr.summary
        owner = (s.token_country_code.upper(), s.token_party_id.upper())
        partner = await self._links.push(
            owner, "cdrs", "POST", "", cdr.body, f"cdr:{s.country_code}/{s.party_id}/{s.cdr_id}"
        )
        if partner is None:
            log.info("CDR %s: no registered eMSP %s/%s to send it to", s.cdr_id, *owner)

    def _is_roaming(self, cdr: StoredCdr) -> bool:
        s = cdr.summary
        owner = (s.token_country_code.upper(), s.token_party_id.upper())
        return owner != tuple(p.upper() for p in self._links.our_party)

    # ------------------------------------------------------------------ credit CDRs

    async def credit(
        self, cdr_pk: int, *, reason: str | None = None, reissue: bool = False
    ) -> tuple[StoredCdr, StoredCdr | None]:
        """Credit one of our CDRs (mod_cdrs 10.1.1) and, with `reissue`, make a new CDR of
        its transaction priced again now. CdrNotFound / CdrConflict (not ours, a credit
        CDR itself, credited already)."""
        original = await self._store.get_cdr(cdr_pk)
        if original is None:
            raise CdrNotFound(f"no CDR {cdr_pk}")
        if original.side != OURS:
            raise CdrConflict("only CDRs Ampyre made can be credited here")
        if original.summary.credit:
            raise CdrConflict("a credit CDR cannot be credited")
        if original.credited_by is not None:
            raise CdrConflict(
                f"CDR {original.summary.cdr_id} is credited by {original.credited_by}"
            )
        tx: Transaction | None = None
        if reissue:
            if original.transaction_pk is not None:
                tx = await self._transactions.get(original.transaction_pk)
            if tx is None:
                raise CdrConflict("the CDR's transaction is gone: nothing to price again")
        now = self._clock()
        body = credit_object(original.body, credit_id(original.summary.cdr_id), now, reason)
        credit = StoredCdr(
            id=0,
            side=OURS,
            summary=summarize(body),
            body=body,
            transaction_pk=original.transaction_pk,
            partner_id=original.partner_id,
            created_at=now,
        )
        credit = await self._store.add_cdr(credit)  # CdrConflict if credited meanwhile
        if self._is_roaming(original):
            await self._post(credit)
        reissued = None
        if tx is not None:
            made = await self._store.cdrs_of_transaction(tx.id)
            number = 1 + sum(1 for c in made if not c.summary.credit)
            grant = grant_of(original.body)
            reissued = await self._make(
                tx,
                grant if self._is_roaming(original) else None,
                reissue_id(tx.id, number),
                require_price=False,
                remark=None,
            )
        return credit, reissued

    # ------------------------------------------------------------------ reads

    async def get(self, cdr_pk: int) -> StoredCdr | None:
        return await self._store.get_cdr(cdr_pk)

    async def list(
        self,
        *,
        side: str | None = OURS,
        transaction_pk: int | None = None,
        credit: bool | None = None,
        partner_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page:
        query = CdrQuery(
            side=side, transaction_pk=transaction_pk, credit=credit, partner_id=partner_id
        )
        return await self._store.cdr_page(query, limit, offset)

    async def page_for(
        self,
        partner: Partner,
        date_from: datetime | None,
        date_to: datetime | None,
        offset: int,
        limit: int,
    ) -> Page:
        """Our CDRs of the tokens of `partner`'s parties, oldest first (the Sender GET,
        mod_cdrs 10.2.1: a CPO returns only the CDRs relevant to the caller)."""
        parties = tuple((r.country_code.upper(), r.party_id.upper()) for r in partner.roles)
        query = CdrQuery(
            side=OURS,
            token_parties=parties,
            date_from=date_from,
            date_to=date_to,
            oldest_first=True,
        )
        return await self._store.cdr_page(query, limit, offset)

    # ------------------------------------------------------------------ eMSP: received

    async def receive(self, partner: Partner, body: Mapping[str, Any]) -> tuple[StoredCdr, bool]:
        """Store a CDR a CPO partner POSTed (mod_cdrs 10.2.2.2): (cdr, created). The same
        CDR again (a retried POST) is accepted as is; CdrConflict for a different CDR under
        an id already used; CdrInvalid when it is not the caller's."""
        data = dict(body)
        summary = summarize(data)
        if not partner.has_party(summary.country_code, summary.party_id):
            raise CdrInvalid(
                f"{summary.country_code}/{summary.party_id} is not a party of this partner"
            )
        existing = await self._store.find_cdr(
            RECEIVED, summary.country_code, summary.party_id, summary.cdr_id
        )
        if existing is not None:
            if existing.body == data:
                return existing, False
            raise CdrConflict(f"CDR {summary.cdr_id} exists already; CDRs cannot be replaced")
        stored = StoredCdr(
            id=0,
            side=RECEIVED,
            summary=summary,
            body=data,
            partner_id=partner.id,
            created_at=self._clock(),
        )
        try:
            return await self._store.add_cdr(stored), True
        except CdrConflict:
            again = await self._store.find_cdr(
                RECEIVED, summary.country_code, summary.party_id, summary.cdr_id
            )
            if again is not None and again.body == data:
                return again, False
            raise

    async def received_for(self, partner: Partner, cdr_pk: int) -> StoredCdr | None:
        """A received CDR by its id in our URL, only to the partner that sent it."""
        cdr = await self._store.get_cdr(cdr_pk)
        if cdr is None or cdr.side != RECEIVED or cdr.partner_id != partner.id:
            return None
        return cdr


def _remark(tx: Transaction) -> str | None:
    """Why the transaction stopped, when the station said (mod_cdrs: "for example:
    reason why a transaction was stopped")."""
    if tx.close_reason:
        return f"closed by the operator: {tx.close_reason}"
    return tx.stop_reason or None

"""Contract service: applications, review, changes, restrictions, cancellation, notices (R3.*).

Restrictions (suspension, pause, interruption, scheduled cancellation, add-on states) are
dated ``TenantRestriction`` records written through ``TenantService.add_restriction``; what
the running system allows is computed from them by ``koe.tenancy.restrictions``. Fees keep
accruing through all of them (Art. 22-3..5): billing reads licenses, never restrictions.
Every notice is stored (``Notice``): what, to which contacts, when, by which channels.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from koe.contracts.mailer import queue_emails
from koe.contracts.rules import (
    REJECT_TEXT,
    DocumentIn,
    PauseReason,
    RejectReason,
    SuspensionReason,
    TerminationGround,
    cancellation_deadline,
    check_identity_documents,
    check_lead_time,
    check_month_end,
    check_suspension,
    invalid,
    refused,
    service_start_date,
)
from koe.core.clock import JST, Clock, jst_today
from koe.core.domain import AddOn, ContractStatus, LicenseKind, RestrictionKind
from koe.core.errors import not_found
from koe.core.events import Event, EventBus
from koe.core.months import month_end, month_start
from koe.store.db import Database
from koe.store.models import (
    Abolition,
    AddOnSubscription,
    ContractApplication,
    ContractChange,
    IdentityDocument,
    LicenseHolding,
    Notice,
    OneOffCharge,
    TariffVersion,
    Tenant,
    TenantContact,
    TenantRestriction,
)
from koe.tenancy.service import TenantService, row_view

log = logging.getLogger(__name__)

View = dict[str, Any]
_CONTACT_KINDS = ("contract", "technical", "emergency")
_TENANT_FIELDS = {
    "address": ("postal_code", "address", "phone", "fax"),
    "billing": ("billing_name", "billing_postal_code", "billing_address"),
    "name": ("company_name", "company_name_kana"),
}
# Standard setup: up to 5 lines, 6 seats, 1 admin (Tariff 4); transcription setup (Tariff 2).
_STANDARD = {"line": 5, "seat": 6, "admin": 1}
STANDARD_SETUP_YEN = 300_000
TRANSCRIPTION_SETUP_YEN = 150_000
_LICENSE_KEYS = {
    "lines": LicenseKind.LINE,
    "seats": LicenseKind.SEAT,
    "admins": LicenseKind.ADMIN,
    "additional_users": LicenseKind.ADDITIONAL_USER,
}


def _jst_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=JST)


class ContractService:
    """The operator's back office for contracts (R3.*)."""

    def __init__(self, db: Database, clock: Clock, bus: EventBus, tenants: TenantService) -> None:
        self.db = db
        self.clock = clock
        self.bus = bus
        self.tenants = tenants

    # ---- applications (Art. 9–11) ----

    async def submit_application(
        self,
        company: Mapping[str, Any],
        contacts: Sequence[Mapping[str, Any]],
        requested: Mapping[str, Any],
        *,
        submitted_by: str,
        go_live_date: date,
        usage_breakdown: str = "",
        sales_agent: str | None = None,
        uses_operator_numbers: bool = False,
        anti_social_attested: bool = False,
        documents: Sequence[DocumentIn] = (),
        custom_setup_yen: int | None = None,
    ) -> View:
        """File an application with every R3.1 field, by staff or a sales agent."""
        today = jst_today(self.clock)
        if not anti_social_attested:
            raise invalid(
                "anti_social_attested",
                "attestation_required",
                "反社会的勢力でないことの表明・確約が必要です(第50条)。",
                "The applicant must attest it is not an anti-social force (Art. 50).",
            )
        kinds = {c.get("kind") for c in contacts}
        missing = [k for k in _CONTACT_KINDS if k not in kinds]
        if missing:
            raise invalid(
                "contacts",
                "contacts_required",
                f"契約窓口・技術・緊急時の連絡先が必要です(第9条第1項第4号)。不足: {missing}",
                f"Contract, technical and emergency contacts are required (Art. 9-1-4): {missing}",
            )
        licenses = {k: int(requested.get(k, 0)) for k in _LICENSE_KEYS}
        if licenses["lines"] + licenses["seats"] + licenses["admins"] <= 0:
            raise invalid(
                "requested",
                "basic_service_required",
                "基本機能のライセンスを申し込んでください(付加機能だけの提供はしません。第5条第2項)。",
                "Request basic licenses; add-ons alone are not provided (Art. 5-2).",
            )
        check_identity_documents(uses_operator_numbers, documents, today)
        tenant = await self.tenants.create(
            {**company, "status": ContractStatus.APPLIED}, list(contacts)
        )
        tenant_id = str(tenant["id"])
        async with self.db.transaction() as s:
            app = ContractApplication(
                tenant_id=tenant_id,
                status="submitted",
                submitted_by=submitted_by,
                sales_agent=sales_agent,
                submitted_on=today,
                requested={
                    **licenses,
                    "recording_delivery": bool(requested.get("recording_delivery")),
                    "transcription_units": int(requested.get("transcription_units", 0)),
                },
                usage_breakdown=usage_breakdown,
                go_live_date=go_live_date,
                uses_operator_numbers=uses_operator_numbers,
                anti_social_attested=True,
                custom_setup_yen=custom_setup_yen,
                created_at=self.clock.now(),
            )
            s.add(app)
            await s.flush()
            for doc in documents:
                s.add(
                    IdentityDocument(
                        tenant_id=tenant_id,
                        application_id=app.id,
                        kind=doc.kind.value,
                        issued_on=doc.issued_on,
                        filename=doc.filename,
                        content_type=doc.content_type,
                        sha256=hashlib.sha256(doc.content).hexdigest(),
                        content=doc.content,
                        created_at=self.clock.now(),
                    )
                )
            view = row_view(app)
        await self._publish("contracts.application_submitted", tenant_id, view)
        return view

    async def accept(
        self, tenant_id: str, application_id: str, *, reviewed_by: str, go_live: date | None = None
    ) -> View:
        """Accept: the contract forms; service starts on the 1st of the go-live month (Art. 11)."""
        async with self.db.transaction() as s:
            app = await self._application(s, tenant_id, application_id)
            go_live_on = go_live or app.go_live_date or jst_today(self.clock)
            start = service_start_date(go_live_on)
            wanted = app.requested
            within = all(
                int(wanted.get(key, 0)) <= _STANDARD[kind]
                for key, kind in (("lines", "line"), ("seats", "seat"), ("admins", "admin"))
            )
            if not within and app.custom_setup_yen is None:
                raise refused(
                    "custom_setup_quote_required",
                    "標準初期導入設定(外線5・シート6・管理機能1)を超えるため、個別見積の"
                    "初期導入設定費用が必要です(料金表第4)。",
                    "The request exceeds the standard setup (5 lines, 6 seats, 1 admin): a "
                    "quoted custom setup fee is required (Tariff 4).",
                    "custom_setup_yen",
                )
            tenant = await self._tenant(s, tenant_id)
            tenant.status = ContractStatus.ACTIVE
            tenant.service_start_date = start
            app.status = "accepted"
            app.reviewed_by = reviewed_by
            app.reviewed_at = self.clock.now()
            app.service_start_date = start
            now = self.clock.now()
            for key, kind in _LICENSE_KEYS.items():
                if int(wanted.get(key, 0)) > 0:
                    s.add(
                        LicenseHolding(
                            tenant_id=tenant_id,
                            kind=kind,
                            quantity=int(wanted[key]),
                            effective_from=start,
                            created_at=now,
                        )
                    )
            if wanted.get("recording_delivery"):
                s.add(self._subscription(tenant_id, AddOn.RECORDING_DELIVERY, 1, start))
            if int(wanted.get("transcription_units", 0)) > 0:
                s.add(
                    self._subscription(
                        tenant_id, AddOn.TRANSCRIPTION, int(wanted["transcription_units"]), start
                    )
                )
                s.add(
                    self._one_off(tenant_id, "transcription_setup", TRANSCRIPTION_SETUP_YEN, start)
                )
            if within:
                s.add(self._one_off(tenant_id, "standard_setup", STANDARD_SETUP_YEN, start))
            else:
                s.add(
                    self._one_off(tenant_id, "custom_setup", int(app.custom_setup_yen or 0), start)
                )
            await self._notice(
                s,
                tenant_id,
                "application_accepted",
                "11",
                ("ご利用申込み承諾のお知らせ", "Your application is accepted"),
                (
                    f"お申込みを承諾しました。利用開始日は {start} です(第11条第2項)。",
                    f"Your application is accepted. The service starts on {start} (Art. 11-2).",
                ),
                related_id=app.id,
            )
            view = row_view(app)
        await self._notified(tenant_id)
        await self._publish("contracts.accepted", tenant_id, view)
        return view

    async def reject(
        self,
        tenant_id: str,
        application_id: str,
        reason: RejectReason,
        *,
        reviewed_by: str,
        note: str = "",
    ) -> View:
        """Reject for a reason of Art. 10 and notify the applicant (Art. 10-2)."""
        reason = RejectReason(reason)
        ja, en = REJECT_TEXT[reason]
        async with self.db.transaction() as s:
            app = await self._application(s, tenant_id, application_id)
            app.status = "rejected"
            app.reject_reason = reason.value
            app.reject_note = note
            app.reviewed_by = reviewed_by
            app.reviewed_at = self.clock.now()
            await self._notice(
                s,
                tenant_id,
                "application_rejected",
                "10",
                ("ご利用申込みについて", "About your application"),
                (
                    f"お申込みを承諾できません。理由: {ja}。{note}",
                    f"Application refused: {en}. {note}",
                ),
                related_id=app.id,
            )
            view = row_view(app)
        await self._notified(tenant_id)
        await self._publish("contracts.rejected", tenant_id, view)
        return view

    # ---- changes (Art. 12–14, 33, 37) ----

    async def request_change(
        self,
        tenant_id: str,
        kind: str,
        effective_on: date,
        payload: Mapping[str, Any],
        *,
        filed_on: date | None = None,
    ) -> View:
        """File a dated change; the lead times of Art. 12 are enforced at filing."""
        filed = filed_on or jst_today(self.clock)
        data = dict(payload)
        async with self.db.transaction() as s:
            await self._active(s, tenant_id)
            if kind == "add_licenses":
                check_lead_time(filed, effective_on, 1, "第12条第3項 / Art. 12-3")
                LicenseKind(data["kind"])
                if int(data["quantity"]) <= 0:
                    raise invalid(
                        "quantity", "invalid_quantity", "数量は1以上です。", "Quantity ≥ 1."
                    )
            elif kind == "remove_licenses":
                check_month_end(effective_on, "第12条第4項 / Art. 12-4")
                check_lead_time(filed, effective_on, 1, "第12条第4項 / Art. 12-4")
                await self._check_removal(
                    s, tenant_id, LicenseKind(data["kind"]), data, effective_on
                )
            elif kind in ("content", "service_line"):
                check_lead_time(filed, effective_on, 1, "第12条第1項・第6項 / Art. 12-1, 12-6")
            elif kind in ("address", "billing", "contacts"):
                if filed > effective_on:
                    raise refused(
                        "not_in_advance",
                        "住所・請求書送付先等の変更は事前に届け出てください(第12条第2項)。",
                        "Address, phone and billing changes are filed in advance (Art. 12-2).",
                        "effective_on",
                    )
            elif kind == "name":
                if not data.get("proof"):
                    raise invalid(
                        "proof",
                        "proof_required",
                        "名義の変更を証明する書類が必要です(第13条)。",
                        "A document proving the name change is required (Art. 13).",
                    )
            elif kind == "succession":
                successors = list(data.get("successors", []))
                if not successors:
                    raise invalid(
                        "successors",
                        "successors_required",
                        "承継者が必要です。",
                        "Name the successors.",
                    )
                # Until a representative is filed, the first successor is treated as one (14-3).
                data.setdefault("representative", successors[0])
            else:
                raise invalid(
                    "kind", "unknown_change", f"不明な変更: {kind}", f"Unknown change: {kind}"
                )
            row = ContractChange(
                tenant_id=tenant_id,
                kind=kind,
                status="requested",
                filed_on=filed,
                effective_on=effective_on,
                payload=data,
                created_at=self.clock.now(),
            )
            s.add(row)
            await s.flush()
            view = row_view(row)
        await self._publish("contracts.change_requested", tenant_id, view)
        return view

    async def _check_removal(
        self,
        s: AsyncSession,
        tenant_id: str,
        kind: LicenseKind,
        data: Mapping[str, Any],
        effective_on: date,
    ) -> None:
        held = await self.tenants_holdings(tenant_id, s, effective_on)
        quantity = int(data["quantity"])
        if quantity <= 0 or quantity > held.get(kind, 0):
            raise invalid(
                "quantity",
                "invalid_quantity",
                "保有数を超えて解約できません。",
                "Cannot remove more than is held.",
            )
        items_after = {k for k, q in held.items() if q > 0}
        if quantity == held[kind]:
            items_after.discard(kind)
        addons = await self._addons_on(s, tenant_id, effective_on)
        if not items_after and not addons:
            raise refused(
                "single_item_must_cancel",
                "1つのサービス品目のみのご利用の場合は解約手続(第19条)によります(第12条第4項)。",
                "A tenant with a single item must cancel the contract instead (Art. 12-4, 19).",
                "kind",
            )

    async def tenants_holdings(
        self, tenant_id: str, s: AsyncSession, day: date
    ) -> dict[LicenseKind, int]:
        """License quantities of ``tenant_id`` in force on ``day``."""
        rows = (
            await s.execute(select(LicenseHolding).where(LicenseHolding.tenant_id == tenant_id))
        ).scalars()
        out: dict[LicenseKind, int] = dict.fromkeys(LicenseKind, 0)
        for row in rows:
            if row.effective_from <= day and (row.effective_to is None or day <= row.effective_to):
                out[row.kind] += row.quantity
        return out

    async def _addons_on(self, s: AsyncSession, tenant_id: str, day: date) -> set[AddOn]:
        rows = (
            await s.execute(
                select(AddOnSubscription).where(AddOnSubscription.tenant_id == tenant_id)
            )
        ).scalars()
        return {
            r.addon for r in rows if r.starts_on <= day and (r.ends_on is None or day <= r.ends_on)
        }

    async def accept_change(self, tenant_id: str, change_id: str) -> View:
        """Accept a requested change and apply its dated effect."""
        async with self.db.transaction() as s:
            change = await self._change(s, tenant_id, change_id)
            change.status = "accepted"
            change.decided_at = self.clock.now()
            data = change.payload
            now = self.clock.now()
            if change.kind == "add_licenses":
                # Added items start on the 1st of the month they fall in (Art. 12-3, 11-2).
                s.add(
                    LicenseHolding(
                        tenant_id=tenant_id,
                        kind=LicenseKind(data["kind"]),
                        quantity=int(data["quantity"]),
                        effective_from=month_start(change.effective_on),
                        created_at=now,
                    )
                )
                change.applied_at = now
            elif change.kind == "remove_licenses":
                await self._remove_licenses(
                    s,
                    tenant_id,
                    LicenseKind(data["kind"]),
                    int(data["quantity"]),
                    change.effective_on,
                )
                change.applied_at = now
            await s.flush()
            view = row_view(change)
        await self.apply_due_changes()
        await self._publish("contracts.change_accepted", tenant_id, view)
        return view

    async def _remove_licenses(
        self, s: AsyncSession, tenant_id: str, kind: LicenseKind, quantity: int, last_day: date
    ) -> None:
        """End ``quantity`` licenses of ``kind`` after ``last_day`` (a month end)."""
        rows = (
            (
                await s.execute(
                    select(LicenseHolding).where(
                        LicenseHolding.tenant_id == tenant_id, LicenseHolding.kind == kind
                    )
                )
            )
            .scalars()
            .all()
        )
        left = quantity
        for row in sorted(rows, key=lambda r: r.effective_from, reverse=True):
            if left <= 0:
                break
            if row.effective_from > last_day or (
                row.effective_to is not None and row.effective_to <= last_day
            ):
                continue
            take = min(left, row.quantity)
            keep = row.quantity - take
            row.effective_to = last_day
            left -= take
            if keep:
                s.add(
                    LicenseHolding(
                        tenant_id=tenant_id,
                        kind=kind,
                        quantity=keep,
                        effective_from=last_day + timedelta(days=1),
                        created_at=self.clock.now(),
                    )
                )

    async def refuse_change(self, tenant_id: str, change_id: str, reason: RejectReason) -> View:
        """Refuse a change like an application (Art. 12-5) and notify the tenant."""
        ja, en = REJECT_TEXT[RejectReason(reason)]
        async with self.db.transaction() as s:
            change = await self._change(s, tenant_id, change_id)
            change.status = "refused"
            change.refuse_reason = RejectReason(reason).value
            change.decided_at = self.clock.now()
            await self._notice(
                s,
                tenant_id,
                "change_refused",
                "12-5",
                ("変更申請について", "About your change request"),
                (f"変更申請を承諾できません。理由: {ja}", f"Change request refused: {en}"),
                related_id=change.id,
            )
            view = row_view(change)
        await self._notified(tenant_id)
        return view

    async def apply_due_changes(self) -> int:
        """Apply accepted tenant-detail changes whose date has come; end finished contracts."""
        today = jst_today(self.clock)
        applied = 0
        async with self.db.transaction() as s:
            due = (
                await s.execute(
                    select(ContractChange).where(
                        ContractChange.status == "accepted",
                        ContractChange.applied_at.is_(None),
                        ContractChange.effective_on <= today,
                    )
                )
            ).scalars()
            for change in due:
                tenant = await self._tenant(s, change.tenant_id)
                if change.kind in _TENANT_FIELDS:
                    for key in _TENANT_FIELDS[change.kind]:
                        if key in change.payload:
                            setattr(tenant, key, change.payload[key])
                elif change.kind == "contacts":
                    for contact in change.payload.get("contacts", []):
                        s.add(TenantContact(tenant_id=tenant.id, **contact))
                change.applied_at = self.clock.now()
                applied += 1
            ended = (
                await s.execute(
                    select(Tenant).where(
                        Tenant.status == ContractStatus.ACTIVE,
                        Tenant.service_end_date.is_not(None),
                        Tenant.service_end_date < today,
                    )
                )
            ).scalars()
            for tenant in ended:
                tenant.status = ContractStatus.ENDED
        return applied

    # ---- suspension, pause, interruption (Art. 16–18, 34–36) ----

    async def suspend(
        self,
        tenant_id: str,
        reason: SuspensionReason,
        starts_at: datetime,
        ends_at: datetime | None = None,
        *,
        until_paid: bool = False,
        addon: AddOn | None = None,
        detail: str = "",
    ) -> View:
        """Suspend (Art. 16; an add-on: Art. 34) for ≤ 6 months, or until paid (16-2)."""
        reason = SuspensionReason(reason)
        check_suspension(reason, starts_at, ends_at, until_paid)
        tag = f"art16:{reason.value}" + (":until_paid" if until_paid else "")
        view = await self.tenants.add_restriction(
            tenant_id,
            RestrictionKind.ADDON_SUSPENSION if addon else RestrictionKind.SUSPENSION,
            starts_at,
            ends_at,
            reason=f"{tag} {detail}".strip(),
            addon=addon,
        )
        period_ja = (
            "料金等が支払われるまで"
            if until_paid
            else f"{starts_at:%Y-%m-%d %H:%M} から {ends_at:%Y-%m-%d %H:%M} まで"
        )
        period_en = (
            "until the fees are paid"
            if until_paid
            else f"from {starts_at:%Y-%m-%d %H:%M} to {ends_at:%Y-%m-%d %H:%M}"
        )
        await self._store_notice(
            tenant_id,
            "suspension",
            "34" if addon else "16",
            ("サービス提供停止のお知らせ", "Service suspension"),
            (
                f"{'付加機能' if addon else '本サービス'}の提供を停止します。"
                f"理由: {reason.value} {detail}。期間: {period_ja}。"
                "停止期間中も料金は発生します(第22条第3項)。",
                f"{'The add-on' if addon else 'The service'} is suspended. "
                f"Reason: {reason.value} {detail}. "
                f"Period: {period_en}. Fees keep accruing (Art. 22-3).",
            ),
            related_id=str(view["id"]),
        )
        return view

    async def pause(
        self,
        tenant_id: str,
        reason: PauseReason,
        starts_at: datetime,
        ends_at: datetime,
        *,
        addon: AddOn | None = None,
        detail: str = "",
    ) -> View:
        """Pause (Art. 17; an add-on: Art. 35), announced in advance with reason and period."""
        reason = PauseReason(reason)
        view = await self.tenants.add_restriction(
            tenant_id,
            RestrictionKind.ADDON_SUSPENSION if addon else RestrictionKind.PAUSE,
            starts_at,
            ends_at,
            reason=f"art17:{reason.value} {detail}".strip(),
            addon=addon,
        )
        await self._store_notice(
            tenant_id,
            "pause",
            "35" if addon else "17",
            ("サービス提供休止のお知らせ", "Planned service pause"),
            (
                f"理由: {reason.value} {detail}。実施期間: {starts_at:%Y-%m-%d %H:%M} から "
                f"{ends_at:%Y-%m-%d %H:%M} まで。休止期間中も料金は発生します(第22条第4項)。",
                f"Reason: {reason.value} {detail}. From {starts_at:%Y-%m-%d %H:%M} to "
                f"{ends_at:%Y-%m-%d %H:%M}. Fees keep accruing (Art. 22-4).",
            ),
            related_id=str(view["id"]),
        )
        return view

    async def interrupt(
        self,
        tenant_id: str,
        starts_at: datetime,
        ends_at: datetime | None = None,
        *,
        addon: AddOn | None = None,
    ) -> View:
        """Interrupt at the tenant's request (Art. 18; an add-on: Art. 36)."""
        view = await self.tenants.add_restriction(
            tenant_id,
            RestrictionKind.ADDON_SUSPENSION if addon else RestrictionKind.INTERRUPTION,
            starts_at,
            ends_at,
            reason="art18:tenant_request",
            addon=addon,
        )
        await self._store_notice(
            tenant_id,
            "interruption",
            "36" if addon else "18",
            ("一時中断の受付", "Temporary interruption accepted"),
            (
                f"ご請求により {starts_at:%Y-%m-%d %H:%M} から一時中断します。"
                "中断中も料金は発生します(第22条第5項)。",
                f"Interrupted at your request from {starts_at:%Y-%m-%d %H:%M}. "
                "Fees keep accruing (Art. 22-5).",
            ),
            related_id=str(view["id"]),
        )
        return view

    async def lift_until_paid(self, tenant_id: str) -> int:
        """Lift the suspensions 'until paid' (Art. 16-2) once the tenant has paid."""
        async with self.db.transaction() as s:
            rows = (
                (
                    await s.execute(
                        select(TenantRestriction).where(
                            TenantRestriction.tenant_id == tenant_id,
                            TenantRestriction.kind == RestrictionKind.SUSPENSION,
                            TenantRestriction.lifted_at.is_(None),
                            TenantRestriction.reason.like("art16:unpaid:until_paid%"),
                        )
                    )
                )
                .scalars()
                .all()
            )
            ids = [r.id for r in rows]
        for restriction_id in ids:
            await self.tenants.lift_restriction(tenant_id, restriction_id)
        return len(ids)

    async def on_event(self, event: Event) -> None:
        """Bus subscriber: a tenant that has paid everything gets its 16-2 suspension lifted."""
        if event.type == "billing.tenant_settled" and event.tenant_id:
            await self.lift_until_paid(event.tenant_id)

    # ---- cancellation and termination (Art. 19, 20, 24, 37-3) ----

    async def cancel(self, tenant_id: str, leave_on: date, *, filed_on: date | None = None) -> View:
        """Cancel at a month end, filed ≥ 1 month ahead (Art. 19): leave 30 Nov, file by 30 Oct."""
        filed = filed_on or jst_today(self.clock)
        check_month_end(leave_on, "第19条 / Art. 19", "leave_on")
        if filed > cancellation_deadline(leave_on):
            raise refused(
                "lead_time_not_met",
                f"{leave_on} 付の解約は {cancellation_deadline(leave_on)} までに"
                "申請してください(第19条)。",
                f"To leave on {leave_on}, file by {cancellation_deadline(leave_on)} (Art. 19).",
                "leave_on",
            )
        view = await self._end_contract(tenant_id, leave_on, "art19:cancellation")
        await self._store_notice(
            tenant_id,
            "cancellation_accepted",
            "19",
            ("解約の受付", "Cancellation accepted"),
            (
                f"解約を受け付けました。解約日(利用終了日)は {leave_on} です。"
                "付加機能も同日に解約となります(第37条第3項)。",
                f"Cancellation accepted: the service ends on {leave_on}; "
                "add-ons end the same day (Art. 37-3).",
            ),
        )
        return view

    async def terminate(
        self,
        tenant_id: str,
        ground: TerminationGround,
        effective_on: date,
        *,
        noticed_on: date | None = None,
        emergency: bool = False,
        setup_cost_yen: int | None = None,
        detail: str = "",
    ) -> View:
        """Terminate on an Art. 20 ground with written notice ahead; fees to month end (Art. 24)."""
        ground = TerminationGround(ground)
        noticed = noticed_on or jst_today(self.clock)
        if noticed >= effective_on and not emergency:
            raise refused(
                "notice_not_in_advance",
                "解除はあらかじめ書面で通知します(第20条第3項)。",
                "Termination needs written notice in advance (Art. 20-3).",
                "effective_on",
            )
        view = await self._end_contract(tenant_id, effective_on, f"art20:{ground.value}")
        if setup_cost_yen:
            async with self.db.transaction() as s:
                s.add(
                    self._one_off(
                        tenant_id, "setup_at_cost", setup_cost_yen, month_start(effective_on)
                    )
                )
        await self._store_notice(
            tenant_id,
            "termination",
            "20",
            ("契約解除のご通知", "Notice of termination"),
            (
                f"第20条({ground.value})により {effective_on} をもって本契約を解除します。{detail}"
                f"利用料金は同月末日まで発生します(第24条)。",
                f"The contract is terminated on {effective_on} under Art. 20 ({ground.value}). "
                f"{detail} "
                "Fees run to the end of that month (Art. 24).",
            ),
            written=True,
        )
        return view

    async def _end_contract(self, tenant_id: str, last_day: date, tag: str) -> View:
        async with self.db.transaction() as s:
            tenant = await self._active(s, tenant_id)
            tenant.service_end_date = last_day
            for row in (
                await s.execute(select(LicenseHolding).where(LicenseHolding.tenant_id == tenant_id))
            ).scalars():
                if row.effective_from > last_day:
                    await s.delete(row)
                elif row.effective_to is None or row.effective_to > last_day:
                    row.effective_to = last_day
            for sub in (
                await s.execute(
                    select(AddOnSubscription).where(AddOnSubscription.tenant_id == tenant_id)
                )
            ).scalars():
                if sub.ends_on is None or sub.ends_on > last_day:
                    sub.ends_on = last_day
            view = {"tenant_id": tenant_id, "service_end_date": last_day.isoformat()}
        await self.tenants.add_restriction(
            tenant_id,
            RestrictionKind.SCHEDULED_CANCELLATION,
            _jst_midnight(last_day + timedelta(days=1)),
            reason=tag,
        )
        await self._publish("contracts.ending", tenant_id, view)
        return view

    # ---- add-ons (Art. 33–38) ----

    async def subscribe_addon(
        self,
        tenant_id: str,
        addon: AddOn,
        starts_on: date,
        *,
        units: int = 1,
        filed_on: date | None = None,
    ) -> View:
        """Apply for an add-on ≥ 1 month ahead; needs the basic service; never after a cancel."""
        addon = AddOn(addon)
        filed = filed_on or jst_today(self.clock)
        check_lead_time(filed, starts_on, 1, "第33条第1項 / Art. 33-1", "starts_on")
        start = month_start(starts_on)
        async with self.db.transaction() as s:
            await self._active(s, tenant_id)
            held = await self.tenants_holdings(tenant_id, s, start)
            held_end = await self.tenants_holdings(tenant_id, s, month_end(start))
            if not any(
                held[k] or held_end[k]
                for k in (LicenseKind.LINE, LicenseKind.SEAT, LicenseKind.ADMIN)
            ):
                raise refused(
                    "addon_requires_basic",
                    "付加機能は基本機能の契約が必要です(第33条第2項)。",
                    "Add-ons require the basic service (Art. 33-2).",
                )
            if await self._addon_ever_cancelled(s, tenant_id, addon):
                raise refused(
                    "addon_resubscribe_forbidden",
                    "一度解約した付加機能は再度利用できません(第37条第4項)。",
                    "An add-on once cancelled cannot be subscribed again (Art. 37-4).",
                    "addon",
                )
            if addon in await self._addons_on(s, tenant_id, start):
                raise refused(
                    "addon_already_subscribed",
                    "この付加機能はすでに契約中です。",
                    "This add-on is already subscribed.",
                    "addon",
                )
            row = self._subscription(tenant_id, addon, units, start)
            s.add(row)
            if addon is AddOn.TRANSCRIPTION:
                s.add(
                    self._one_off(tenant_id, "transcription_setup", TRANSCRIPTION_SETUP_YEN, start)
                )
            await s.flush()
            view = row_view(row)
        await self._publish("addons.changed", tenant_id, view)
        return view

    async def _addon_ever_cancelled(self, s: AsyncSession, tenant_id: str, addon: AddOn) -> bool:
        restriction = (
            await s.execute(
                select(TenantRestriction.id).where(
                    TenantRestriction.tenant_id == tenant_id,
                    TenantRestriction.kind == RestrictionKind.ADDON_CANCELLATION,
                    TenantRestriction.addon == addon,
                )
            )
        ).first()
        ended = (
            await s.execute(
                select(AddOnSubscription.id).where(
                    AddOnSubscription.tenant_id == tenant_id,
                    AddOnSubscription.addon == addon,
                    AddOnSubscription.ends_on.is_not(None),
                )
            )
        ).first()
        return restriction is not None or ended is not None

    async def cancel_addon(
        self, tenant_id: str, addon: AddOn, leave_on: date, *, filed_on: date | None = None
    ) -> View:
        """Cancel an add-on at a month end with ≥ 1 month notice (Art. 37); for good (37-4)."""
        addon = AddOn(addon)
        filed = filed_on or jst_today(self.clock)
        check_month_end(leave_on, "第37条 / Art. 37", "leave_on")
        check_lead_time(filed, leave_on, 1, "第37条第1項 / Art. 37-1", "leave_on")
        async with self.db.transaction() as s:
            subs = [
                r
                for r in (
                    await s.execute(
                        select(AddOnSubscription).where(
                            AddOnSubscription.tenant_id == tenant_id,
                            AddOnSubscription.addon == addon,
                        )
                    )
                ).scalars()
                if r.ends_on is None or r.ends_on > leave_on
            ]
            if not subs:
                raise not_found("付加機能", "Add-on subscription")
            for sub in subs:
                sub.ends_on = leave_on
        view = await self.tenants.add_restriction(
            tenant_id,
            RestrictionKind.ADDON_CANCELLATION,
            _jst_midnight(leave_on + timedelta(days=1)),
            reason="art37:cancellation",
            addon=addon,
        )
        await self._store_notice(
            tenant_id,
            "addon_cancellation_accepted",
            "37",
            ("付加機能解約の受付", "Add-on cancellation accepted"),
            (
                f"{addon.value} を {leave_on} 付で解約します。"
                "解約した品目は再度利用できません(第37条第4項)。",
                f"{addon.value} ends on {leave_on}. "
                "A cancelled item cannot be used again (Art. 37-4).",
            ),
        )
        return view

    async def abolish_addon(
        self, addon: AddOn, effective_on: date, *, announced_on: date | None = None
    ) -> View:
        """Abolish an add-on at a month end with ≥ 3 months written notice (Art. 38)."""
        addon = AddOn(addon)
        announced = announced_on or jst_today(self.clock)
        check_month_end(effective_on, "第38条 / Art. 38")
        check_lead_time(announced, effective_on, 3, "第38条第2項 / Art. 38-2")
        async with self.db.transaction() as s:
            s.add(
                Abolition(
                    scope="addon",
                    addon=addon,
                    announced_on=announced,
                    effective_on=effective_on,
                    created_at=self.clock.now(),
                )
            )
            subs = [
                r
                for r in (
                    await s.execute(
                        select(AddOnSubscription).where(AddOnSubscription.addon == addon)
                    )
                ).scalars()
                if r.ends_on is None or r.ends_on > effective_on
            ]
            tenants = sorted({r.tenant_id for r in subs})
            for sub in subs:
                sub.ends_on = effective_on
            for tenant_id in tenants:
                await self._notice(
                    s,
                    tenant_id,
                    "addon_abolition",
                    "38",
                    ("付加機能廃止のご通知", "Notice of add-on abolition"),
                    (
                        f"{addon.value} を {effective_on} 付で廃止します(第38条)。",
                        f"{addon.value} is abolished on {effective_on} (Art. 38).",
                    ),
                    written=True,
                )
        for tenant_id in tenants:
            await self._notified(tenant_id)
        return {"addon": addon.value, "effective_on": effective_on.isoformat(), "tenants": tenants}

    async def abolish_service(
        self, effective_on: date, *, announced_on: date | None = None
    ) -> View:
        """Abolish the whole service with ≥ 6 months written notice (Art. 48)."""
        announced = announced_on or jst_today(self.clock)
        check_lead_time(announced, effective_on, 6, "第48条第2項 / Art. 48-2")
        async with self.db.transaction() as s:
            s.add(
                Abolition(
                    scope="service",
                    addon=None,
                    announced_on=announced,
                    effective_on=effective_on,
                    created_at=self.clock.now(),
                )
            )
            tenants = [
                t.id
                for t in (
                    await s.execute(select(Tenant).where(Tenant.status == ContractStatus.ACTIVE))
                ).scalars()
                if t.service_end_date is None or t.service_end_date > effective_on
            ]
        for tenant_id in tenants:
            await self._end_contract(tenant_id, effective_on, "art48:abolition")
            await self._store_notice(
                tenant_id,
                "service_abolition",
                "48",
                ("サービス廃止のご通知", "Notice of service abolition"),
                (
                    f"本サービスを {effective_on} をもって廃止し、"
                    "同日を契約終了日とします(第48条)。",
                    f"The service is abolished on {effective_on}; "
                    "your contract ends that day (Art. 48).",
                ),
                written=True,
            )
        return {"effective_on": effective_on.isoformat(), "tenants": tenants}

    async def announce_tariff(
        self,
        effective_from: date,
        prices: Mapping[str, int],
        *,
        announced_on: date | None = None,
        note: str = "",
    ) -> View:
        """Record a new tariff version, announced ≥ 3 months ahead to every tenant (Art. 21-3)."""
        announced = announced_on or jst_today(self.clock)
        check_lead_time(announced, effective_from, 3, "第21条第3項 / Art. 21-3", "effective_from")
        async with self.db.transaction() as s:
            row = TariffVersion(
                effective_from=effective_from,
                announced_on=announced,
                prices={k: int(v) for k, v in prices.items()},
                note=note,
                created_at=self.clock.now(),
            )
            s.add(row)
            await s.flush()
            view = row_view(row)
            tenants = [
                t.id
                for t in (
                    await s.execute(select(Tenant).where(Tenant.status == ContractStatus.ACTIVE))
                ).scalars()
            ]
            listed = "、".join(f"{k} {v:,}円" for k, v in sorted(prices.items()))
            for tenant_id in tenants:
                await self._notice(
                    s,
                    tenant_id,
                    "tariff_change",
                    "21-3",
                    ("料金改定のお知らせ", "Tariff change"),
                    (
                        f"{effective_from} から料金表を改定します: {listed}。{note}",
                        f"The tariff changes on {effective_from}: {listed}. {note}",
                    ),
                    related_id=row.id,
                )
        for tenant_id in tenants:
            await self._notified(tenant_id)
        return view

    # ---- reading ----

    async def applications(
        self, tenant_id: str | None = None, status: str | None = None
    ) -> list[View]:
        """Applications (of one tenant, in one status), oldest first, with their documents
        described (kind, issue date, file name, SHA-256; not the content)."""
        async with self.db.transaction() as s:
            stmt = select(ContractApplication)
            if tenant_id is not None:
                stmt = stmt.where(ContractApplication.tenant_id == tenant_id)
            if status is not None:
                stmt = stmt.where(ContractApplication.status == status)
            apps = (await s.execute(stmt.order_by(ContractApplication.created_at))).scalars().all()
            docs: dict[str, list[View]] = {a.id: [] for a in apps}
            if apps:
                for doc in (
                    await s.execute(
                        select(IdentityDocument)
                        .where(IdentityDocument.application_id.in_(list(docs)))
                        .order_by(IdentityDocument.created_at, IdentityDocument.id)
                    )
                ).scalars():
                    docs[doc.application_id].append(row_view(doc, exclude=("content",)))
            return [{**row_view(a), "documents": docs[a.id]} for a in apps]

    async def changes(self, tenant_id: str) -> list[View]:
        """Change requests of ``tenant_id``, oldest first."""
        async with self.db.transaction() as s:
            await self._tenant(s, tenant_id)
            rows = (
                await s.execute(
                    select(ContractChange)
                    .where(ContractChange.tenant_id == tenant_id)
                    .order_by(ContractChange.created_at, ContractChange.id)
                )
            ).scalars()
            return [row_view(r) for r in rows]

    # ---- notices ----

    async def notice(self, tenant_id: str, notice_id: str) -> View:
        """One notice given to ``tenant_id``; another tenant's is not found."""
        async with self.db.transaction() as s:
            row = (
                await s.execute(
                    select(Notice).where(Notice.tenant_id == tenant_id, Notice.id == notice_id)
                )
            ).scalar_one_or_none()
            if row is None:
                raise not_found("通知", "Notice")
            return row_view(row)

    async def notices(self, tenant_id: str) -> list[View]:
        """Every notice given to ``tenant_id``, oldest first."""
        async with self.db.transaction() as s:
            rows = (
                await s.execute(
                    select(Notice)
                    .where(Notice.tenant_id == tenant_id)
                    .order_by(Notice.sent_at, Notice.id)
                )
            ).scalars()
            return [row_view(r) for r in rows]

    async def _store_notice(
        self,
        tenant_id: str,
        kind: str,
        article: str,
        subject: tuple[str, str],
        body: tuple[str, str],
        *,
        written: bool = False,
        related_id: str | None = None,
    ) -> None:
        async with self.db.transaction() as s:
            await self._notice(
                s, tenant_id, kind, article, subject, body, written=written, related_id=related_id
            )
        await self._notified(tenant_id)

    async def _notified(self, tenant_id: str) -> None:
        """After the commit: notices of ``tenant_id`` are stored and their e-mails queued
        (the notice mailer sends them on this event)."""
        await self._publish("contracts.notice_stored", tenant_id, {})

    async def _notice(
        self,
        s: AsyncSession,
        tenant_id: str,
        kind: str,
        article: str,
        subject: tuple[str, str],
        body: tuple[str, str],
        *,
        written: bool = False,
        related_id: str | None = None,
    ) -> None:
        contacts = (
            (await s.execute(select(TenantContact).where(TenantContact.tenant_id == tenant_id)))
            .scalars()
            .all()
        )
        wanted = [c for c in contacts if c.kind in ("contract", "emergency", "billing")] or list(
            contacts
        )
        recipients = [{"kind": c.kind, "name": c.name, "email": c.email} for c in wanted]
        channels = ["email", "suite"] + (["written"] if written else [])
        now = self.clock.now()
        notice = Notice(
            tenant_id=tenant_id,
            kind=kind,
            article=article,
            subject_ja=subject[0],
            subject_en=subject[1],
            body_ja=body[0],
            body_en=body[1],
            recipients=recipients,
            channels=channels,
            delivery={
                "email": "queued" if any(r["email"] for r in recipients) else "no_address",
                "suite": "posted",
            },
            written=written,
            related_id=related_id,
            sent_at=now,
        )
        s.add(notice)
        await s.flush()
        s.add_all(queue_emails(notice, now))
        log.info("notice tenant=%s kind=%s article=%s", tenant_id, kind, article)

    # ---- helpers ----

    def _subscription(
        self, tenant_id: str, addon: AddOn, units: int, start: date
    ) -> AddOnSubscription:
        return AddOnSubscription(
            tenant_id=tenant_id,
            addon=addon,
            units=units,
            starts_on=start,
            created_at=self.clock.now(),
        )

    def _one_off(self, tenant_id: str, item: str, yen: int, month: date) -> OneOffCharge:
        return OneOffCharge(
            tenant_id=tenant_id,
            item=item,
            amount_yen=yen,
            taxable=True,
            service_month=month_start(month),
            description="",
            created_at=self.clock.now(),
        )

    async def _tenant(self, s: AsyncSession, tenant_id: str) -> Tenant:
        tenant = await s.get(Tenant, tenant_id)
        if tenant is None:
            raise not_found("テナント", "Tenant")
        return tenant

    async def _active(self, s: AsyncSession, tenant_id: str) -> Tenant:
        tenant = await self._tenant(s, tenant_id)
        if tenant.status is not ContractStatus.ACTIVE:
            raise refused(
                "contract_not_active",
                "契約が有効ではありません。",
                "The contract is not active.",
            )
        return tenant

    async def _application(
        self, s: AsyncSession, tenant_id: str, application_id: str
    ) -> ContractApplication:
        app = (
            await s.execute(
                select(ContractApplication).where(
                    ContractApplication.tenant_id == tenant_id,
                    ContractApplication.id == application_id,
                )
            )
        ).scalar_one_or_none()
        if app is None:
            raise not_found("申込", "Application")
        if app.status != "submitted":
            raise refused(
                "application_decided",
                "この申込は審査済みです。",
                "This application was already decided.",
            )
        return app

    async def _change(self, s: AsyncSession, tenant_id: str, change_id: str) -> ContractChange:
        change = (
            await s.execute(
                select(ContractChange).where(
                    ContractChange.tenant_id == tenant_id, ContractChange.id == change_id
                )
            )
        ).scalar_one_or_none()
        if change is None:
            raise not_found("変更申請", "Change request")
        if change.status != "requested":
            raise refused(
                "change_decided", "この変更申請は処理済みです。", "This change was already decided."
            )
        return change

    async def _publish(self, kind: str, tenant_id: str | None, data: View) -> None:
        await self.bus.publish(Event(kind, tenant_id, self.clock.now(), data))

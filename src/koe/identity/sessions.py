"""Login sessions, login throttling and admin-device accounting (R2.2).

- Tenant people log in with tenant code + login + password; operator staff without a tenant.
- A session token is random; only its SHA-256 is stored. Sessions expire after
  ``settings.session_hours`` and can be revoked (logout, admin revoke, takeover, password change).
- Failed logins are counted per tenant + login and per source address; after
  ``settings.login_max_failures`` failures the key is locked for ``login_lock_minutes``;
  a source address has its own, higher limit (``login_max_failures_per_address``), since
  a whole office may share one address behind NAT.
- Admin licenses count admin PCs: a tenant admin logs in with a ``device_id`` the browser keeps;
  the (N+1)th device is refused with the devices in use, or takes over the oldest.
- Agents and supervisors of a tenant under a restriction that stops them (suspension, pause,
  interruption, end of contract: R3.6) are refused with the restriction and its end, at login
  and on every request; tenant admins still log in.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from koe.core.clock import Clock, as_utc, jst_today
from koe.core.domain import OPERATOR_ROLES, Role
from koe.core.errors import (
    AuthenticationFailed,
    Conflict,
    FieldError,
    Throttled,
    ValidationFailed,
    not_found,
)
from koe.core.events import Event, EventBus
from koe.core.ids import new_token
from koe.core.settings import Settings
from koe.identity.passwords import hash_password, verify_password
from koe.licensing.restrictions import agent_login_refusal, allowance
from koe.licensing.rules import DeviceInUse, decide_admin_login, holdings_on
from koe.store.db import Database
from koe.store.models import (
    Agent,
    AuditEntry,
    AuthSession,
    LicenseHolding,
    LoginThrottle,
    OperatorUser,
    Tenant,
    TenantRestriction,
    User,
)

log = logging.getLogger(__name__)

DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_TOKEN_LENGTH = 128
# last_seen_at is written at most this often: enough to order devices for a takeover
# without a database write on every request.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def token_hash(token: str) -> str:
    """The stored form of a session token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the session's person, role, tenant (None for operators) and device."""

    session_id: str
    role: Role
    tenant_id: str | None
    user_id: str
    login: str
    device_id: str
    expires_at: datetime

    @property
    def is_operator(self) -> bool:
        """True for operator staff (no tenant)."""
        return self.role.is_operator


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A new session: the token (shown once), who it is, and devices a takeover released."""

    token: str
    principal: Principal
    released_devices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AdminDevices:
    """Admin licenses of a tenant and the admin PCs holding them now."""

    licenses: int
    devices: tuple[DeviceInUse, ...]


@dataclass(frozen=True, slots=True)
class _Account:
    id: str
    tenant_id: str | None
    role: Role
    login: str
    password_hash: str


def _invalid_credentials() -> AuthenticationFailed:
    return AuthenticationFailed(
        "invalid_credentials",
        "テナントコード、ログインIDまたはパスワードが正しくありません。",
        "Wrong tenant code, login or password.",
    )


def _throttled(retry_after: int) -> Throttled:
    minutes = max(1, math.ceil(retry_after / 60))
    return Throttled(
        "login_throttled",
        f"ログインの失敗が続いたため一時的にロックしています。約{minutes}分後にお試しください。",
        f"Too many failed logins; locked for now. Try again in about {minutes} minute(s).",
        details={"retry_after": retry_after},
    )


class AuthService:
    """Authenticates people and manages their sessions."""

    def __init__(self, db: Database, clock: Clock, bus: EventBus, settings: Settings) -> None:
        self.db = db
        self.clock = clock
        self.bus = bus
        self.settings = settings

    # ---- login ----

    async def login(
        self,
        *,
        tenant_code: str | None,
        login: str,
        password: str,
        source: str,
        device_id: str | None = None,
        device_label: str = "",
        takeover: bool = False,
    ) -> LoginResult:
        """Check the password and open a session; throttled, and admin PCs counted (R2.2)."""
        now = self.clock.now()
        user_key = f"login:{tenant_code or '-'}:{login.casefold()}"[:300]
        keys = (user_key, f"addr:{source}"[:300])
        await self._check_throttle(keys, now)
        account = await self._find_account(tenant_code, login)
        if not verify_password(account.password_hash if account else None, password):
            await self._record_failure(keys, now)
            log.info("login failed tenant=%s login=%r source=%s", tenant_code, login, source)
            raise _invalid_credentials()
        assert account is not None  # verify_password is False without an account
        if account.role is Role.TENANT_ADMIN and (
            device_id is None or not DEVICE_ID.match(device_id)
        ):
            raise ValidationFailed(
                "device_id_required",
                "管理者のログインには端末ID(device_id、8〜64文字の英数字)が必要です。",
                "An admin login needs a device_id (8 to 64 letters, digits, '-' or '_').",
                [FieldError("device_id", "device_id_required", "端末IDが必要です。", "Required.")],
            )
        if account.role.is_named_user and account.tenant_id is not None:
            async with self.db.transaction() as s:
                await self._check_tenant_allows_agents(s, account.tenant_id)
        device = device_id or ""
        token = new_token()
        async with self.db.transaction() as s:
            # A write first: on SQLite it takes the database's write lock for the whole
            # transaction, which serialises admin logins as the row lock below does on PostgreSQL.
            await s.execute(
                update(LoginThrottle)
                .where(LoginThrottle.key == user_key)
                .values(failures=0, locked_until=None, window_started_at=now)
            )
            released: tuple[str, ...] = ()
            if account.role is Role.TENANT_ADMIN and account.tenant_id is not None:
                released = await self._claim_admin_device(
                    s, account.tenant_id, device, takeover=takeover
                )
            row = AuthSession(
                token_hash=token_hash(token),
                tenant_id=account.tenant_id,
                user_id=account.id if account.tenant_id else None,
                operator_user_id=None if account.tenant_id else account.id,
                role=account.role,
                device_id=device,
                device_label=device_label,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=self.settings.session_hours),
            )
            s.add(row)
            await s.flush()
            self._audit(s, account, "auth.login", device, {"released": list(released)})
            principal = self._principal(row, account.login)
        log.info(
            "login tenant=%s user=%s role=%s device=%s released=%s",
            account.tenant_id,
            account.id,
            account.role.value,
            device,
            released,
        )
        await self._publish(
            "auth.login",
            account.tenant_id,
            {"user_id": account.id, "device_id": device, "released": list(released)},
        )
        return LoginResult(token=token, principal=principal, released_devices=released)

    async def _find_account(self, tenant_code: str | None, login: str) -> _Account | None:
        async with self.db.transaction() as s:
            if tenant_code is None:
                op = (
                    await s.execute(
                        select(OperatorUser).where(
                            OperatorUser.login == login, OperatorUser.active.is_(True)
                        )
                    )
                ).scalar_one_or_none()
                if op is None:
                    return None
                return _Account(op.id, None, op.role, op.login, op.password_hash)
            user = (
                await s.execute(
                    select(User)
                    .join(Tenant, Tenant.id == User.tenant_id)
                    .where(Tenant.code == tenant_code, User.login == login, User.active.is_(True))
                )
            ).scalar_one_or_none()
            if user is None:
                return None
            return _Account(user.id, user.tenant_id, user.role, user.login, user.password_hash)

    async def _claim_admin_device(
        self, s: AsyncSession, tenant_id: str, device_id: str, *, takeover: bool
    ) -> tuple[str, ...]:
        """Admit ``device_id`` as an admin PC, releasing the oldest ones on takeover."""
        stmt = select(Tenant.id).where(Tenant.id == tenant_id)
        if self.db.dialect == "postgresql":
            stmt = stmt.with_for_update()  # serialise admin logins of one tenant
        await s.execute(stmt)
        in_use = await self._devices(s, tenant_id)
        licenses = await self._admin_licenses(s, tenant_id)
        decision = decide_admin_login(licenses, in_use, device_id, takeover=takeover)
        if decision.release:
            await self._revoke(
                s,
                (
                    AuthSession.tenant_id == tenant_id,
                    AuthSession.role == Role.TENANT_ADMIN,
                    AuthSession.device_id.in_(decision.release),
                ),
                "takeover",
            )
        return decision.release

    async def _admin_licenses(self, s: AsyncSession, tenant_id: str) -> int:
        rows = (
            (await s.execute(select(LicenseHolding).where(LicenseHolding.tenant_id == tenant_id)))
            .scalars()
            .all()
        )
        return holdings_on(rows, jst_today(self.clock)).admin

    async def _devices(self, s: AsyncSession, tenant_id: str) -> list[DeviceInUse]:
        """Distinct devices with a live tenant-admin session, oldest first."""
        rows = (
            (
                await s.execute(
                    select(AuthSession)
                    .where(*self._live(), AuthSession.tenant_id == tenant_id)
                    .where(AuthSession.role == Role.TENANT_ADMIN)
                    .order_by(AuthSession.created_at)
                )
            )
            .scalars()
            .all()
        )
        devices: dict[str, DeviceInUse] = {}
        for row in rows:
            seen = as_utc(row.last_seen_at)
            known = devices.get(row.device_id)
            devices[row.device_id] = DeviceInUse(
                device_id=row.device_id,
                label=row.device_label,
                since=known.since if known else as_utc(row.created_at),
                last_seen=max(known.last_seen, seen) if known else seen,
            )
        return sorted(devices.values(), key=lambda d: (d.since, d.device_id))

    # ---- throttling ----

    async def _check_throttle(self, keys: Sequence[str], now: datetime) -> None:
        async with self.db.transaction() as s:
            rows = (
                (await s.execute(select(LoginThrottle).where(LoginThrottle.key.in_(keys))))
                .scalars()
                .all()
            )
        locks = [as_utc(r.locked_until) for r in rows if r.locked_until is not None]
        active = [until for until in locks if until > now]
        if active:
            raise _throttled(math.ceil((max(active) - now).total_seconds()))

    async def _record_failure(self, keys: Sequence[str], now: datetime) -> None:
        window = timedelta(minutes=self.settings.login_lock_minutes)
        async with self.db.transaction() as s:
            # Forget counters whose window and lock are over, so guessed logins leave no trail.
            await s.execute(
                delete(LoginThrottle).where(
                    LoginThrottle.window_started_at < now - window,
                    (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until < now),
                    LoginThrottle.key.not_in(keys),
                )
            )
            insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
            await s.execute(
                insert(LoginThrottle)
                .values([{"key": k, "failures": 0, "window_started_at": now} for k in sorted(keys)])
                .on_conflict_do_nothing(index_elements=["key"])
            )
            stmt = select(LoginThrottle).where(LoginThrottle.key.in_(keys))
            if self.db.dialect == "postgresql":
                # Always lock in key order, so two failing logins cannot deadlock.
                stmt = stmt.with_for_update().order_by(LoginThrottle.key)
            for row in (await s.execute(stmt)).scalars():
                expired_lock = row.locked_until is not None and as_utc(row.locked_until) <= now
                if expired_lock or as_utc(row.window_started_at) + window <= now:
                    row.failures = 0
                    row.window_started_at = now
                    row.locked_until = None
                row.failures += 1
                limit = (
                    self.settings.login_max_failures_per_address
                    if row.key.startswith("addr:")
                    else self.settings.login_max_failures
                )
                if row.failures >= limit:
                    row.locked_until = now + window
                    log.warning("login locked key=%s failures=%d", row.key, row.failures)

    # ---- sessions ----

    def _live(self) -> tuple[Any, ...]:
        return (AuthSession.revoked_at.is_(None), AuthSession.expires_at > self.clock.now())

    @staticmethod
    def _principal(row: AuthSession, login: str) -> Principal:
        return Principal(
            session_id=row.id,
            role=row.role,
            tenant_id=row.tenant_id,
            user_id=row.user_id or row.operator_user_id or "",
            login=login,
            device_id=row.device_id,
            expires_at=as_utc(row.expires_at),
        )

    async def authenticate(self, token: str) -> Principal:
        """The principal of a live session token; 401 when unknown, expired or revoked."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise _not_authenticated()
        now = self.clock.now()
        async with self.db.transaction() as s:
            row = (
                await s.execute(
                    select(AuthSession).where(AuthSession.token_hash == token_hash(token))
                )
            ).scalar_one_or_none()
            if row is None:
                raise _not_authenticated()
            if row.revoked_at is not None:
                raise AuthenticationFailed(
                    "session_revoked",
                    "このセッションは終了しています。もう一度ログインしてください。",
                    "This session has been ended. Please log in again.",
                    details={"reason": row.revoked_reason},
                )
            if as_utc(row.expires_at) <= now:
                raise AuthenticationFailed(
                    "session_expired",
                    "セッションの有効期限が切れました。もう一度ログインしてください。",
                    "Your session has expired. Please log in again.",
                )
            person: User | OperatorUser | None = (
                await s.get(User, row.user_id)
                if row.user_id
                else await s.get(OperatorUser, row.operator_user_id)
            )
            if person is None or not person.active or person.role != row.role:
                raise AuthenticationFailed(
                    "session_revoked",
                    "このセッションは終了しています。もう一度ログインしてください。",
                    "This session has been ended. Please log in again.",
                    details={"reason": "account_changed"},
                )
            if row.role.is_named_user and row.tenant_id is not None:
                await self._check_tenant_allows_agents(s, row.tenant_id)
            if now - as_utc(row.last_seen_at) >= LAST_SEEN_RESOLUTION:
                row.last_seen_at = now
            return self._principal(row, person.login)

    async def _check_tenant_allows_agents(self, s: AsyncSession, tenant_id: str) -> None:
        """Refuse agents and supervisors while a restriction of their tenant stops them."""
        tenant = await s.get(Tenant, tenant_id)
        if tenant is None:
            raise _not_authenticated()
        rows = (
            (
                await s.execute(
                    select(TenantRestriction).where(TenantRestriction.tenant_id == tenant_id)
                )
            )
            .scalars()
            .all()
        )
        now = self.clock.now()
        refusal = agent_login_refusal(
            tenant.status, allowance(tenant.status, rows, (), now, jst_today(self.clock))
        )
        if refusal is not None:
            raise refusal

    async def logout(self, principal: Principal) -> None:
        """End the caller's session."""
        async with self.db.transaction() as s:
            await self._revoke(s, (AuthSession.id == principal.session_id,), "logout")
        await self._publish(
            "auth.logout",
            principal.tenant_id,
            {"user_id": principal.user_id, "device_id": principal.device_id},
        )

    async def devices(self, tenant_id: str) -> AdminDevices:
        """Admin licenses of ``tenant_id`` and the admin PCs holding them now."""
        async with self.db.transaction() as s:
            return AdminDevices(
                licenses=await self._admin_licenses(s, tenant_id),
                devices=tuple(await self._devices(s, tenant_id)),
            )

    async def revoke_device(self, tenant_id: str, device_id: str) -> int:
        """End every admin session of ``device_id`` in ``tenant_id`` (frees its admin license)."""
        async with self.db.transaction() as s:
            count = await self._revoke(
                s,
                (
                    AuthSession.tenant_id == tenant_id,
                    AuthSession.role == Role.TENANT_ADMIN,
                    AuthSession.device_id == device_id,
                ),
                "admin_revoked",
            )
        if count == 0:
            raise not_found("端末", "Device")
        await self._publish("auth.sessions_revoked", tenant_id, {"device_id": device_id})
        return count

    async def revoke_user_sessions(self, tenant_id: str, user_id: str) -> int:
        """End every session of one user of ``tenant_id``; another tenant's user is not found."""
        async with self.db.transaction() as s:
            user = (
                await s.execute(select(User).where(User.tenant_id == tenant_id, User.id == user_id))
            ).scalar_one_or_none()
            if user is None:
                raise not_found("ユーザー", "User")
            count = await self._revoke(
                s,
                (AuthSession.tenant_id == tenant_id, AuthSession.user_id == user_id),
                "admin_revoked",
            )
        await self._publish("auth.sessions_revoked", tenant_id, {"user_id": user_id})
        return count

    async def change_password(self, principal: Principal, current: str, new: str) -> int:
        """Change the caller's password and end their other sessions; returns how many."""
        async with self.db.transaction() as s:
            person: User | OperatorUser | None = (
                await s.get(OperatorUser, principal.user_id)
                if principal.is_operator
                else await s.get(User, principal.user_id)
            )
            if person is None or not verify_password(person.password_hash, current):
                raise ValidationFailed(
                    "wrong_password",
                    "現在のパスワードが正しくありません。",
                    "The current password is wrong.",
                    [
                        FieldError(
                            "current_password",
                            "wrong_password",
                            "現在のパスワードが正しくありません。",
                            "The current password is wrong.",
                        )
                    ],
                )
            person.password_hash = hash_password(new)
            owner = (
                AuthSession.operator_user_id == person.id
                if principal.is_operator
                else AuthSession.user_id == person.id
            )
            count = await self._revoke(
                s, (owner, AuthSession.id != principal.session_id), "password_changed"
            )
        await self._publish(
            "auth.password_changed", principal.tenant_id, {"user_id": principal.user_id}
        )
        return count

    async def _revoke(self, s: AsyncSession, where: Sequence[Any], reason: str) -> int:
        result = await s.execute(
            update(AuthSession)
            .where(*self._live(), *where)
            .values(revoked_at=self.clock.now(), revoked_reason=reason)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    # ---- who am I ----

    async def me(self, principal: Principal) -> dict[str, Any]:
        """The caller's own profile (and agent profile when they take calls)."""
        async with self.db.transaction() as s:
            if principal.is_operator:
                op = await s.get(OperatorUser, principal.user_id)
                if op is None:
                    raise _not_authenticated()
                return {
                    "id": op.id,
                    "login": op.login,
                    "name": op.name,
                    "email": op.email,
                    "role": op.role.value,
                    "language": "ja",
                    "tenant_id": None,
                    "tenant_code": None,
                    "agent": None,
                    "device_id": principal.device_id,
                    "session_expires_at": principal.expires_at,
                }
            user = await s.get(User, principal.user_id)
            tenant = await s.get(Tenant, principal.tenant_id)
            if user is None or tenant is None:
                raise _not_authenticated()
            agent = (
                await s.execute(
                    select(Agent).where(Agent.tenant_id == tenant.id, Agent.user_id == user.id)
                )
            ).scalar_one_or_none()
            return {
                "id": user.id,
                "login": user.login,
                "name": user.name,
                "email": user.email,
                "role": user.role.value,
                "language": user.language,
                "tenant_id": tenant.id,
                "tenant_code": tenant.code,
                "agent": None
                if agent is None
                else {
                    "id": agent.id,
                    "extension": agent.extension,
                    "display_name": agent.display_name,
                },
                "device_id": principal.device_id,
                "session_expires_at": principal.expires_at,
            }

    # ---- operator staff ----

    async def add_operator_user(
        self,
        login: str,
        name: str,
        password: str,
        role: Role = Role.OPERATOR_STAFF,
        email: str | None = None,
    ) -> dict[str, Any]:
        """Create a member of the operator's staff."""
        if role not in OPERATOR_ROLES:
            raise ValidationFailed(
                "invalid_role",
                "運営者の役割は operator_admin か operator_staff です。",
                "Operator roles are operator_admin and operator_staff.",
            )
        async with self.db.transaction() as s:
            taken = (
                await s.execute(select(OperatorUser.id).where(OperatorUser.login == login))
            ).first()
            if taken is not None:
                raise Conflict(
                    "duplicate",
                    f"login {login!r} はすでに使われています。",
                    f"login {login!r} is already in use.",
                    [FieldError("login", "duplicate", "すでに使われています。", "Already in use.")],
                )
            op = OperatorUser(
                login=login,
                name=name,
                email=email,
                role=role,
                password_hash=hash_password(password),
                created_at=self.clock.now(),
            )
            s.add(op)
            await s.flush()
            return _operator_view(op)

    async def operator_users(self) -> list[dict[str, Any]]:
        """Every member of the operator's staff."""
        async with self.db.transaction() as s:
            rows = (await s.execute(select(OperatorUser).order_by(OperatorUser.login))).scalars()
            return [_operator_view(r) for r in rows]

    async def operator_user(self, user_id: str) -> dict[str, Any]:
        """One member of the operator's staff."""
        async with self.db.transaction() as s:
            return _operator_view(await self._operator_row(s, user_id))

    async def update_operator_user(
        self, by: Principal, user_id: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Change a staff member; a new password, role or deactivation ends their sessions."""
        values = dict(changes)
        async with self.db.transaction() as s:
            row = await self._operator_row(s, user_id)
            if "role" in values:
                values["role"] = Role(values["role"])
                if values["role"] not in OPERATOR_ROLES:
                    raise ValidationFailed(
                        "invalid_role",
                        "運営者の役割は operator_admin か operator_staff です。",
                        "Operator roles are operator_admin and operator_staff.",
                        [FieldError("role", "invalid_role", "不正な役割です。", "Invalid role.")],
                    )
            demoted = values.get("role", row.role) is not Role.OPERATOR_ADMIN
            deactivated = values.get("active", row.active) is False
            if row.role is Role.OPERATOR_ADMIN and row.active and (demoted or deactivated):
                await self._keep_one_admin(s, row.id)
            if "password" in values:
                row.password_hash = hash_password(values.pop("password"))
                values["_revoke"] = True
            revoke = values.pop("_revoke", False) or "role" in values or deactivated
            for field, value in values.items():
                setattr(row, field, value)
            if revoke:
                await self._revoke(s, [AuthSession.operator_user_id == row.id], "account_changed")
            s.add(
                AuditEntry(
                    tenant_id=None,
                    actor=f"operator:{by.user_id}",
                    action="operator_user.updated",
                    target=row.id,
                    detail={k: v for k, v in changes.items() if k != "password"},
                    at=self.clock.now(),
                )
            )
            return _operator_view(row)

    async def delete_operator_user(self, by: Principal, user_id: str) -> None:
        """Remove a staff member (never oneself, never the last operator admin)."""
        if by.user_id == user_id:
            raise Conflict(
                "cannot_delete_self",
                "自分自身は削除できません。",
                "You cannot delete your own account.",
            )
        async with self.db.transaction() as s:
            row = await self._operator_row(s, user_id)
            if row.role is Role.OPERATOR_ADMIN and row.active:
                await self._keep_one_admin(s, row.id)
            await s.delete(row)

    async def _operator_row(self, s: AsyncSession, user_id: str) -> OperatorUser:
        row = await s.get(OperatorUser, user_id)
        if row is None:
            raise not_found("運営スタッフ", "Operator staff member")
        return row

    async def _keep_one_admin(self, s: AsyncSession, leaving: str) -> None:
        others = (
            await s.execute(
                select(func.count())
                .select_from(OperatorUser)
                .where(
                    OperatorUser.role == Role.OPERATOR_ADMIN,
                    OperatorUser.active.is_(True),
                    OperatorUser.id != leaving,
                )
            )
        ).scalar_one()
        if not others:
            raise Conflict(
                "last_operator_admin",
                "最後の運営管理者は削除・降格・無効化できません。",
                "The last operator admin cannot be removed, demoted or deactivated.",
            )

    # ---- helpers ----

    def _audit(
        self, s: AsyncSession, account: _Account, action: str, target: str, detail: dict[str, Any]
    ) -> None:
        s.add(
            AuditEntry(
                tenant_id=account.tenant_id,
                actor=f"{'user' if account.tenant_id else 'operator'}:{account.id}",
                action=action,
                target=target[:140],
                detail=detail,
                at=self.clock.now(),
            )
        )

    async def _publish(self, kind: str, tenant_id: str | None, data: dict[str, Any]) -> None:
        await self.bus.publish(Event(kind, tenant_id, self.clock.now(), data))


def _operator_view(row: OperatorUser) -> dict[str, Any]:
    return {
        "id": row.id,
        "login": row.login,
        "name": row.name,
        "email": row.email,
        "role": row.role.value,
        "active": row.active,
        "created_at": row.created_at,
    }


def _not_authenticated() -> AuthenticationFailed:
    return AuthenticationFailed(
        "not_authenticated",
        "ログインが必要です。",
        "Authentication required.",
    )

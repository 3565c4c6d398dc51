"""Benchmark of the monthly billing run (issue 6): N tenants with a month of usage.

Generates tenants with licenses, add-ons and last month's carrier charges straight into a
fresh database, then times ``BillingService.run_month`` (PDFs excluded). Runs on PostgreSQL
(a private server, tests/pg.py) when available, then on SQLite; the last line is the SQLite
figure: ``billing_run: N s``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import insert  # noqa: E402

from koe.billing.service import BillingService  # noqa: E402
from koe.core.clock import FrozenClock  # noqa: E402
from koe.core.domain import AddOn, ContractStatus, LicenseKind  # noqa: E402
from koe.core.events import EventBus  # noqa: E402
from koe.store.db import Database  # noqa: E402
from koe.store.migrate import upgrade  # noqa: E402
from koe.store.models import (  # noqa: E402
    AddOnSubscription,
    CarrierCharge,
    LicenseHolding,
    Tenant,
)

MONTH = date(2026, 11, 1)
NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


async def populate(db: Database, tenants: int, seed: int) -> None:
    """Tenants with 3 license kinds, some add-ons and October's carrier charges."""
    rnd = random.Random(seed)
    rows_t, rows_h, rows_a, rows_c = [], [], [], []
    for i in range(tenants):
        tid = str(uuid.UUID(int=rnd.getrandbits(128)))
        start = date(2026, rnd.randint(1, 11), 1)
        rows_t.append(
            {
                "id": tid,
                "code": f"t{i:05d}",
                "company_name": f"株式会社テナント{i}",
                "company_name_kana": f"テナント{i}",
                "representative_name": "代表",
                "address": "東京都",
                "phone": "+81312345678",
                "status": ContractStatus.ACTIVE,
                "service_start_date": start,
                "settings": {},
                "created_at": NOW,
            }
        )
        for kind, qty in (
            (LicenseKind.LINE, rnd.randint(1, 20)),
            (LicenseKind.SEAT, rnd.randint(1, 40)),
            (LicenseKind.ADMIN, rnd.randint(1, 3)),
        ):
            rows_h.append(
                {
                    "id": str(uuid.uuid4()),
                    "tenant_id": tid,
                    "kind": kind,
                    "quantity": qty,
                    "effective_from": start,
                    "created_at": NOW,
                }
            )
        if rnd.random() < 0.3:
            rows_a.append(
                {
                    "id": str(uuid.uuid4()),
                    "tenant_id": tid,
                    "addon": AddOn.RECORDING_DELIVERY,
                    "units": 1,
                    "starts_on": start,
                    "created_at": NOW,
                }
            )
        for n in range(2):
            rows_c.append(
                {
                    "id": str(uuid.uuid4()),
                    "tenant_id": tid,
                    "carrier": "NTT",
                    "usage_month": date(2026, 10, 1),
                    "number": f"+8131234{i:04d}{n}"[:13],
                    "calls": rnd.randint(10, 3000),
                    "seconds": 0,
                    "amount_yen": rnd.randint(100, 90_000),
                    "statement_ref": "",
                    "reconciliation": {},
                    "imported_at": NOW,
                }
            )
    async with db.transaction() as s:
        for model, rows in (
            (Tenant, rows_t),
            (LicenseHolding, rows_h),
            (AddOnSubscription, rows_a),
            (CarrierCharge, rows_c),
        ):
            for start_at in range(0, len(rows), 5_000):
                await s.execute(insert(model), rows[start_at : start_at + 5_000])


async def measure(url: str, tenants: int) -> float:
    """Populate a fresh database at ``url`` and time one monthly run."""
    upgrade(url)
    db = Database(url)
    try:
        await populate(db, tenants, seed=6)
        billing = BillingService(db, FrozenClock(NOW), EventBus())
        await billing.set_issuer(
            "株式会社コエ運営", "T4010001234567", effective_from=date(2021, 1, 1)
        )
        started = time.perf_counter()
        report = await billing.run_month(MONTH)
        elapsed = time.perf_counter() - started
        again = await billing.run_month(MONTH)
        if report.invoices != tenants or again.invoices != 0:
            raise RuntimeError(f"unexpected run results: {report} / {again}")
        print(
            f"{db.dialect}: {tenants} tenants, {report.invoices} invoices in {elapsed:.1f} s "
            f"({report.invoices / elapsed:.0f} invoices/s); re-run {again.seconds:.1f} s",
            flush=True,
        )
        return elapsed
    finally:
        await db.dispose()


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    if not args.no_postgres:
        from tests.pg import PostgresServer

        server = PostgresServer()
        try:
            server.start()
            asyncio.run(measure(server.create_database("koe_bench"), args.tenants))
        except RuntimeError as err:
            print(f"postgresql: skipped ({err})", flush=True)
        finally:
            server.stop()
    with tempfile.TemporaryDirectory(prefix="koe-bench-") as tmp:
        elapsed = asyncio.run(measure(f"sqlite:///{tmp}/koe.db", args.tenants))
    print(f"billing_run: {elapsed:.1f} s")


if __name__ == "__main__":
    main()

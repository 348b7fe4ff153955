"""contracts.package_id, indexed: listContractsOnPackage reads an index instead of every contract's terms

Revision ID: 0014_contract_package
Revises: 0013_clickhouse_shipping
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0014_contract_package"
down_revision = "0013_clickhouse_shipping"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(sa.Column("package_id", sa.String(36), nullable=True))
    op.create_index("ix_contracts_package", "contracts", ["tenant_id", "package_id", "id"])
    # Backfill from the terms each contract recorded (portable: the JSON is read here, not in SQL).
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, terms FROM contracts WHERE terms LIKE '%package_id%'")).all()
    for contract_id, terms in rows:
        doc = json.loads(terms) if isinstance(terms, str) else terms
        package_id = doc.get("package_id") if isinstance(doc, dict) else None
        if isinstance(package_id, str):
            conn.execute(
                sa.text("UPDATE contracts SET package_id = :p WHERE id = :i"),
                {"p": package_id, "i": contract_id},
            )


def downgrade() -> None:
    op.drop_index("ix_contracts_package", "contracts")
    with op.batch_alter_table("contracts") as batch:
        batch.drop_column("package_id")

"""lsh_bands: 32-bit band hashes, the high half of the 64-bit ones stored before.

A band hash was a signed 64-bit int; it is now that value shifted right by 32 bits (see
monitor.dedup._bands), so the stored rows are converted in SQL, without reading a single
fingerprint. Each row of the index is a third narrower: inserting and looking up band rows
takes about a tenth less time. Two bands of one article whose high halves are equal (a chance of
about 1 in 2,000,000 per article) become one row.

SQLite copies the table, as revision 0006 did; PostgreSQL changes the column's type in place.
The downgrade cannot widen a 32-bit hash back: it computes the 64-bit hashes again from the
stored fingerprints (an article whose fingerprint cannot be read keeps no band, as it could
never be compared anyway).

Revision ID: 0007
Revises: 0006
"""

import hashlib
import struct

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The layout of a stored fingerprint as revisions 0006 and 0007 know it (monitor.dedup): a
# header (format version, algorithm version, permutations, shingles, length of the content
# hash), the content hash, then one little-endian 32-bit value per permutation. Two values a
# band, each band hashed with blake2b keyed by (band, format version, algorithm version).
_HEADER = struct.Struct("<BBHIB")
_ROWS = 2


def _copy(band_type: type[sa.types.TypeEngine], select: str) -> None:
    """SQLite: rebuild lsh_bands with ``band_type`` hashes, filled by ``select``."""
    op.create_table(
        "lsh_bands_copy",
        sa.Column("band_hash", band_type(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_lsh_bands_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("band_hash", "article_id", name=op.f("pk_lsh_bands")),
        sqlite_with_rowid=False,
    )
    op.execute(f"INSERT INTO lsh_bands_copy (band_hash, article_id) {select}")
    op.drop_table("lsh_bands")  # and its index by article
    op.rename_table("lsh_bands_copy", "lsh_bands")
    op.create_index("ix_lsh_bands_article_id", "lsh_bands", ["article_id"])


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _copy(
            sa.Integer,
            "SELECT DISTINCT band_hash >> 32, article_id FROM lsh_bands ORDER BY 1, 2",
        )
        return
    # the second of two rows that would become one, then the type
    op.execute(
        "DELETE FROM lsh_bands d USING ("
        " SELECT band_hash, article_id, row_number() OVER"
        " (PARTITION BY article_id, band_hash >> 32 ORDER BY band_hash) AS n FROM lsh_bands"
        ") twin WHERE twin.n > 1"
        " AND d.band_hash = twin.band_hash AND d.article_id = twin.article_id"
    )
    op.alter_column(
        "lsh_bands",
        "band_hash",
        type_=sa.Integer(),
        existing_type=sa.BigInteger(),
        existing_nullable=False,
        postgresql_using="(band_hash >> 32)::integer",
    )


def _wide_bands(blob: bytes) -> set[int]:
    """The 64-bit band hashes of a stored fingerprint; none if it has no content or cannot be
    read."""
    if len(blob) < _HEADER.size:
        return set()
    version, algorithm, perms, shingles, hash_len = _HEADER.unpack_from(blob)
    start = _HEADER.size + hash_len
    if not shingles or len(blob) != start + 4 * perms or perms % _ROWS:
        return set()
    width = 4 * _ROWS
    return {
        int.from_bytes(
            hashlib.blake2b(
                blob[start + band * width : start + (band + 1) * width],
                digest_size=8,
                salt=struct.pack("<HBB", band, version, algorithm),
            ).digest(),
            "little",
            signed=True,
        )
        for band in range(perms // _ROWS)
    }


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _copy(sa.BigInteger, "SELECT band_hash, article_id FROM lsh_bands WHERE 0")
    else:
        op.execute("DELETE FROM lsh_bands")
        op.alter_column(
            "lsh_bands",
            "band_hash",
            type_=sa.BigInteger(),
            existing_type=sa.Integer(),
            existing_nullable=False,
        )
    batch = sa.text(
        "SELECT id, fingerprint FROM articles WHERE id > :after AND fingerprint IS NOT NULL"
        " ORDER BY id LIMIT 1000"
    )
    insert = sa.text("INSERT INTO lsh_bands (band_hash, article_id) VALUES (:band, :article)")
    after = 0
    while articles := bind.execute(batch, {"after": after}).all():  # a thousand at a time
        rows = [
            {"band": band, "article": article_id}
            for article_id, blob in articles
            for band in _wide_bands(bytes(blob))
        ]
        if rows:
            bind.execute(insert, rows)
        after = articles[-1][0]

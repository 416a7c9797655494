"""Writes of the import: records → ledger rows, in batches, inside one transaction.

Records arrive one at a time (a file is never held in memory): each writer buffers a batch,
looks up the existing rows of the batch by external ref, and inserts or updates only what
changed. Rules that depend on the ledger (over-allocation, duplicate refs across the whole
input) are checked here; a failing record goes to the ``RejectSink`` and the others carry on so
that every error is reported. Whoever owns the transaction decides to commit or roll back.

The package, one module per part: ``run`` (a file or records through the writer of their kind,
and the outcome), ``writer`` (what every writer does), one module per record kind (``customers``
with contacts, ``invoices``, ``credit_notes``, ``payments``, ``orders``, ``rates``, ``disputes`` (through the cases app's services); ``allocating`` is what
credit notes and payments share), ``rejects`` (rejected rows and their messages, keys seen earlier) and ``bulk`` (the SQL).
"""

from relance.ingest.services.credit_notes import CreditNoteWriter
from relance.ingest.services.customers import ContactWriter, CustomerWriter
from relance.ingest.services.disputes import DisputeWriter
from relance.ingest.services.invoices import InvoiceWriter
from relance.ingest.services.orders import OrderWriter
from relance.ingest.services.payments import PaymentWriter
from relance.ingest.services.rates import ExchangeRateWriter
from relance.ingest.services.rejects import RejectSink
from relance.ingest.services.run import (
    WRITERS,
    ImportOutcome,
    Progress,
    canonical_columns,
    file_import,
    records_upsert,
    rejects_path_for,
)

__all__ = [
    "WRITERS",
    "ContactWriter",
    "CreditNoteWriter",
    "CustomerWriter",
    "DisputeWriter",
    "ExchangeRateWriter",
    "ImportOutcome",
    "InvoiceWriter",
    "OrderWriter",
    "PaymentWriter",
    "Progress",
    "RejectSink",
    "canonical_columns",
    "file_import",
    "records_upsert",
    "rejects_path_for",
]

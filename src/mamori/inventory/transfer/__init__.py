"""Inventory import and export: clients, contacts, contracts, servers, sites, domains and
endpoints as a YAML file (or endpoints as CSV), in the format described in
``docs/import-format.md``.

Public interface::

    report = import_file(data_or_path, filename="clients.yaml", actor=user, dry_run=True)
    report.ok, report.errors (ImportProblem: file, line, path, message), report.counts
    text = export_inventory(fmt="yaml", clients=["acme"], actor=user)

The modules, in the order a file passes through them: ``reading`` (bytes to values with line
numbers), ``entries`` and ``schema`` (values to checked records), ``applying`` (records to
rows, with permissions and audit), ``importing`` (the transaction around it all) and
``exporting`` (rows back to a file).
"""

from mamori.inventory.transfer.exporting import EXPORT_FORMATS, UnknownClients, export_inventory
from mamori.inventory.transfer.importing import FORMATS, MAX_FILE_BYTES, file_format, import_file
from mamori.inventory.transfer.report import Change, ImportProblem, ImportReport

__all__ = [
    "EXPORT_FORMATS",
    "FORMATS",
    "MAX_FILE_BYTES",
    "Change",
    "ImportProblem",
    "ImportReport",
    "UnknownClients",
    "export_inventory",
    "file_format",
    "import_file",
]

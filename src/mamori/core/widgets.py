"""Form widgets shared by the pages of several apps."""

from __future__ import annotations

from django import forms


class ClientRecordSelect(forms.Select):
    """A choice of a client's record (a site, server, contract ...) whose options name their
    client (``data-client``), so that a form with ``data-client-scoped`` lists only the chosen
    client's (mamori.js); a site's options also carry its URL and name (``data-url``,
    ``data-name``), which picking it fills in. The server still refuses another client's."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        record = getattr(value, "instance", None)
        if record is not None and getattr(record, "client_id", None) is not None:
            option["attrs"]["data-client"] = str(record.client_id)
            if getattr(record, "url", ""):
                option["attrs"]["data-url"] = record.url
                option["attrs"]["data-name"] = record.name
        return option

"""Bank statement parsers: camt.053/054 (``camt``), MT940 (``mt940``), CSV/XLSX with a mapping
(``tabular``). Each returns ``StatementData`` holding the engine's ``BankLineData`` (``base``);
``sniff`` tells the format from the first bytes. No database here: ``relance.cashapp.services``
stores what they return, all or nothing."""

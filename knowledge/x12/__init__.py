"""X12 exchange with clearinghouses: 837 claims, 277/277CA statuses, 999 acknowledgments and 835
remittances in; 276 out.

Layers, bottom up: `segments` (streaming tokenizer), `envelope` (ISA/GS/ST checks, first pass),
`parse835` / `load837` / `load277` / `load999` (one transaction type each; `ack_codes` the 999's code
lists in words), `matching` / `balancing` / `rows` (an 835's claims found, its money rules, its rows
written), `posting` (835 to the ledger), `handlers` (one handler per transaction family: what it reads,
writes and reports), `importer` (one database transaction per ST..SE, dispatched to the handlers;
`reports` what it did), `writer276` and `generator` (synthetic 835s).
"""

"""X12 exchange with clearinghouses: 837 claims, 277/277CA statuses and 835 remittances in; 276 out.

Layers, bottom up: `segments` (streaming tokenizer), `envelope` (ISA/GS/ST checks, first pass),
`parse835` / `load837` / `load277` (one transaction type each), `matching` / `balancing` / `rows`
(an 835's claims found, its money rules, its rows written), `posting` (835 to the ledger),
`importer` (one database transaction per ST..SE), `writer276` and `generator` (synthetic 835s).
"""

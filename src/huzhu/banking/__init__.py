"""The platform's side of the custodian bank as its own service: references and deposits from
camt.054, payments out as pain.001 answered by pain.002, daily camt.053 reconciliation, the
exceptions queue with four eyes, and the wind-down."""

"""huzhu_bank: the custodian bank as its own service (a sandbox bank for the embedded default and tests).

It holds the members' money on a pool (custody) account with a virtual sub-account per member
reference, takes payment instructions (ISO 20022 pain.001), answers them (pain.002), notifies every
booking (camt.054), closes each business day with a numbered statement (camt.053) and signs its
end-of-day balance with its own Ed25519 key. It has its own database and process, talks to the
platform only over mutual TLS, and imports nothing of the platform's domain: only the shared ISO
20022 message library (``huzhu.custody.iso20022``) and the leaf helpers ``huzhu.money``,
``huzhu.clock``, ``huzhu.db`` and ``huzhu.errors``.

Run it::

    python -m huzhu_bank certs data/bank-certs          # local CA, bank server cert, platform client cert
    python -m huzhu_bank serve --port 8443 --certs data/bank-certs \
        --db sqlite:///data/bank.sqlite --key data/bank-signing-ed25519.pem

The platform talks to it through :class:`huzhu.custody.bank_client.HttpBankConnector` with
``ca.pem``, ``client.pem`` and ``client.key`` from the certificate directory.

Modules: :mod:`.models` (its own tables), :mod:`.service` (books and message flows),
:mod:`.signing` (Ed25519 signed notes), :mod:`.certs`, :mod:`.runtime`, :mod:`.api`, :mod:`.server`.
"""

"""Transparency: the public record — canonical JSON leaves of an RFC 9162 Merkle tree, inclusion and
consistency proofs — that lets anyone check what the platform published and that it never changed."""

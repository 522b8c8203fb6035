"""The Xet storage formats (hashes, xorbs, shards) as hf_xet speaks them; pure functions, no I/O.

Specified in shared/research/xet-protocol.md, sections 6 and 7; section numbers below refer to it.
"""

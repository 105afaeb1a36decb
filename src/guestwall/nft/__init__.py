"""nftables as typed values: expressions and rules (ir), commands and transactions (commands), and the one
renderer to nft syntax (render). Knows nothing of filters, bindings or the store."""

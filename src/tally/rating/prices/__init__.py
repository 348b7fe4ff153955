"""One module per price model; each turns a rate into a price curve or a charge."""

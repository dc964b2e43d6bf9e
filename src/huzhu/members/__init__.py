"""Members: the insured people an account manages, their sealed ID numbers, plan enrollments and
coverage history; joining (deposit first), top-ups, withdrawals, suspension below the minimum
balance, resumption and leaving; the bulk import of an existing pool."""

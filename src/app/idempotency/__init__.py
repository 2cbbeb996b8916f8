"""Safe retries: a POST sent again with the same ``Idempotency-Key`` gets the first answer, and is not done twice."""

"""The security audit log: a row for every security event, in the transaction of the change it records."""

-- Empty stand-in for pgjwt: nothing is created. sign() and verify() are security-relevant, so
-- they are never faked; a call to them fails loudly.
SELECT 1;

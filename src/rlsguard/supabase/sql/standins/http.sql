-- Empty stand-in for http: nothing is created, so any call to http_get() and friends fails loudly.
SELECT 1;

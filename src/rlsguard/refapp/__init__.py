"""The reference app: the reference platform served the way a Supabase app's server serves it
(requests run as the signed-in user over a sized connection pool), with the auth service
mounted under ``/auth/v1``. Game days drive it with synthetic users and watch what they see."""

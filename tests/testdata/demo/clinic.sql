-- The demo clinic database: patients, visits and payments with a few thousand generated rows,
-- and the login roles the demo policy talks about. Load it into an empty database as a
-- superuser (scripts/demo loads it into `clinic`). Every value is computed from the row number,
-- so every load produces the same data; nothing here is real.
--
-- Login roles (passwords stored as SCRAM-SHA-256; each password is the role name + "-demo"):
--   app_backend / app_backend-demo   the application: reads and writes everything
--   analyst     / analyst-demo       reads everything
--   analyst_jr  / analyst_jr-demo    member of analyst (inherits its grants)
--   support     / support-demo       reads everything
--   auditor     / auditor-demo       reads everything

\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET password_encryption = 'scram-sha-256';

DO $$
DECLARE
  role_name text;
BEGIN
  FOREACH role_name IN ARRAY ARRAY['app_backend', 'analyst', 'analyst_jr', 'support', 'auditor']
  LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
      EXECUTE format('CREATE ROLE %I LOGIN', role_name);
    END IF;
    EXECUTE format('ALTER ROLE %I LOGIN PASSWORD %L', role_name, role_name || '-demo');
  END LOOP;
END
$$;

GRANT analyst TO analyst_jr;

DROP TABLE IF EXISTS public.payments, public.visits, public.patients CASCADE;

CREATE TABLE public.patients (
  id      serial PRIMARY KEY,
  name    text NOT NULL,
  ssn     text NOT NULL,
  email   text NOT NULL,
  phone   text NOT NULL,
  dob     date NOT NULL,
  address text NOT NULL
);

CREATE TABLE public.visits (
  id         serial PRIMARY KEY,
  patient_id integer NOT NULL REFERENCES public.patients (id),
  visited_at timestamptz NOT NULL,
  diagnosis  text NOT NULL,
  notes      text NOT NULL
);

CREATE TABLE public.payments (
  id          serial PRIMARY KEY,
  patient_id  integer NOT NULL REFERENCES public.patients (id),
  card_number text NOT NULL,
  amount      numeric(10, 2) NOT NULL,
  paid_at     timestamptz NOT NULL
);

-- Multiplying the row number by large primes and taking remainders spreads values without
-- random(), so the data is the same on every load.
INSERT INTO public.patients (name, ssn, email, phone, dob, address)
SELECT first_name || ' ' || last_name,
       lpad((100 + g * 7919 % 800)::text, 3, '0') || '-' ||
         lpad((1 + g * 104729 % 98)::text, 2, '0') || '-' ||
         lpad((1 + g * 15485863 % 9998)::text, 4, '0'),
       lower(first_name) || '.' || lower(last_name) || g || '@' ||
         (ARRAY['example.com', 'mail.example.org', 'clinic.example.net'])[1 + g % 3],
       '+1-555-' || lpad((g * 7907 % 1000)::text, 3, '0') || '-' ||
         lpad((g * 65537 % 10000)::text, 4, '0'),
       date '1940-01-01' + (g * 7919 % 25000)::integer,
       (100 + g * 37 % 9000) || ' ' ||
         (ARRAY['Maple St', 'Oak Ave', 'Pine Rd', 'Cedar Ln', 'Elm Ct', 'Birch Way'])[1 + g * 7 % 6]
         || ', ' ||
         (ARRAY['Springfield', 'Riverton', 'Lakeside', 'Hillview', 'Fairmont'])[1 + g * 11 % 5]
FROM generate_series(1::bigint, 2000) AS g,
     LATERAL (SELECT
       (ARRAY['Ada', 'Ben', 'Chloe', 'Dmitri', 'Elena', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas',
              'Kemal', 'Lena', 'Mateo', 'Nora', 'Omar', 'Priya', 'Quinn', 'Rosa', 'Sven', 'Tara'])
         [1 + g * 7 % 20] AS first_name,
       (ARRAY['Abara', 'Berg', 'Costa', 'Dubois', 'Eriksen', 'Fischer', 'Garcia', 'Haddad',
              'Ito', 'Jensen', 'Kowalski', 'Lindqvist', 'Moreau', 'Novak', 'Okafor', 'Petrov',
              'Quist', 'Rossi', 'Silva', 'Tanaka', 'Ueda', 'Varga', 'Weber', 'Yilmaz', 'Zhang'])
         [1 + g * 13 % 25] AS last_name) AS names
ORDER BY g;

INSERT INTO public.visits (patient_id, visited_at, diagnosis, notes)
SELECT 1 + g * 7919 % 2000,
       timestamptz '2023-01-02 08:00:00+00' + (g * 104729 % 730) * interval '1 day'
         + (g * 31 % 600) * interval '1 minute',
       (ARRAY['E11.9 Type 2 diabetes mellitus without complications',
              'I10 Essential (primary) hypertension',
              'J06.9 Acute upper respiratory infection, unspecified',
              'M54.5 Low back pain',
              'F41.1 Generalized anxiety disorder',
              'K21.9 Gastro-esophageal reflux disease without esophagitis',
              'J45.909 Unspecified asthma, uncomplicated',
              'E78.5 Hyperlipidemia, unspecified',
              'N39.0 Urinary tract infection, site not specified',
              'Z00.00 General adult medical examination'])[1 + g * 17 % 10],
       (ARRAY['Patient reports improvement.', 'Prescribed medication adjusted.',
              'Lab work ordered.', 'Referred to specialist.', 'No change since last visit.'])
         [1 + g * 3 % 5] || ' Follow-up in ' || (1 + g % 12) || ' weeks.'
FROM generate_series(1::bigint, 6000) AS g
ORDER BY g;

-- Card numbers: a 15-digit body starting with 4, then the Luhn check digit. Counting from the
-- right of the full number, the body's odd positions (from the left) are the doubled ones.
INSERT INTO public.payments (patient_id, card_number, amount, paid_at)
SELECT 1 + g * 104729 % 2000,
       body || (SELECT (10 - sum(CASE WHEN i % 2 = 1
                                      THEN substr(body, i, 1)::integer * 2 % 10
                                           + substr(body, i, 1)::integer * 2 / 10
                                      ELSE substr(body, i, 1)::integer END) % 10) % 10
                FROM generate_series(1, 15) AS i),
       ((500 + g * 7919 % 50000) / 100.0)::numeric(10, 2),
       timestamptz '2023-01-03 09:00:00+00' + (g * 65537 % 730) * interval '1 day'
         + (g * 43 % 480) * interval '1 minute'
FROM generate_series(1::bigint, 4000) AS g,
     LATERAL (SELECT '4' || lpad(((g * 982451653 + 17) * 48271 % 100000000000000)::text, 14, '0')
                AS body) AS b
ORDER BY g;

GRANT SELECT, INSERT, UPDATE, DELETE ON public.patients, public.visits, public.payments
  TO app_backend;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app_backend;
GRANT SELECT ON public.patients, public.visits, public.payments TO analyst, support, auditor;
-- Reading the sequences lets these roles run pg_dump (through pgmask: a masked dump).
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO analyst, support, auditor;

ANALYZE public.patients, public.visits, public.payments;

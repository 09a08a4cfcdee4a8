#!/usr/bin/python3
"""Writes the seed corpus of every fuzz target into tests/fuzz/corpus/<target>/.

The seeds are real protocol traffic (what psql, libpq and PostgreSQL 15 send), the repository's
policies and COPY streams, laid out as each target's header comment describes. Run it again after
changing a target's input layout; libFuzzer never writes into this directory (tests/fuzz/run
fuzzes a scratch copy)."""

import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
CORPUS = HERE / "corpus"


def msg(tag, body=b""):
    return tag.encode() + struct.pack(">I", len(body) + 4) + body


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def u32(v):
    return struct.pack(">I", v)


def values(*vals):
    out = i16(len(vals))
    for v in vals:
        if v is None:
            out += i32(-1)
        else:
            v = v.encode() if isinstance(v, str) else v
            out += i32(len(v)) + v
    return out


def field(name, table, column, type_oid, typlen, typmod, fmt):
    return cstr(name) + u32(table) + i16(column) + u32(type_oid) + i16(typlen) + i32(typmod) + i16(fmt)


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


# --- frames: one chunking-seed byte, then the stream ---------------------------------------------

def frontend():
    simple = msg("Q", cstr("SELECT * FROM patients LIMIT 5"))
    extended = (
        msg("P", cstr("s1") + cstr("SELECT ssn, email FROM patients WHERE id = $1") + i16(1) + u32(23))
        + msg("B", cstr("p1") + cstr("s1") + i16(1) + i16(1) + values(struct.pack(">i", 7)) + i16(2) + i16(0) + i16(1))
        + msg("D", b"P" + cstr("p1"))
        + msg("E", cstr("p1") + i32(10))
        + msg("C", b"P" + cstr("p1"))
        + msg("C", b"S" + cstr("s1"))
        + msg("S")
    )
    unnamed = (
        msg("P", cstr("") + cstr("SELECT $1::text, $2::int4") + i16(0))
        + msg("B", cstr("") + cstr("") + i16(0) + values("a", None) + i16(0))
        + msg("D", b"S" + cstr(""))
        + msg("E", cstr("") + i32(0))
        + msg("H")
        + msg("S")
    )
    copy_in = msg("Q", cstr("COPY t FROM STDIN")) + msg("d", b"1\tx\n") + msg("d", b"2\t\\N\n") + msg("c")
    copy_fail = msg("d", b"partial") + msg("f", cstr("client gave up"))
    password = msg("p", cstr("md5" + "0" * 32)) + msg("p", cstr("SCRAM-SHA-256") + i32(4) + b"n,,n")
    function_call = msg("F", u32(1598) + i16(0) + values("x") + i16(0))
    for seed, name, stream in [
        (0, "simple_query", simple),
        (1, "extended_pipeline", extended),
        (7, "unnamed_statement", unnamed),
        (3, "copy_from_stdin", copy_in),
        (4, "copy_fail", copy_fail),
        (5, "password_and_sasl", password),
        (6, "function_call_terminate", function_call + msg("X")),
        (0, "bad_length", b"Q" + i32(3)),
        (2, "unknown_tag", b"?" + i32(4)),
    ]:
        write("fuzz_frontend_frames", name, bytes([seed]) + stream)


def backend():
    login = (
        msg("R", i32(10) + cstr("SCRAM-SHA-256") + b"\0")
        + msg("R", i32(11) + b"r=abc,s=c2FsdA==,i=4096")
        + msg("R", i32(12) + b"v=signature")
        + msg("R", i32(0))
        + msg("S", cstr("server_version") + cstr("15.8"))
        + msg("S", cstr("TimeZone") + cstr("UTC"))
        + msg("K", u32(4242) + u32(0xDEADBEEF))
        + msg("Z", b"I")
    )
    rows = (
        msg("T", i16(3) + field("id", 16384, 1, 23, 4, -1, 0) + field("ssn", 16384, 2, 25, -1, -1, 0)
            + field("dob", 16384, 5, 1082, 4, -1, 1))
        + msg("D", values("1", "123-45-6789", struct.pack(">i", -4583)))
        + msg("D", values("2", None, None))
        + msg("C", cstr("SELECT 2"))
        + msg("Z", b"I")
    )
    extended = (
        msg("1") + msg("2") + msg("t", i16(2) + u32(23) + u32(25)) + msg("n") + msg("s") + msg("3")
        + msg("I") + msg("Z", b"T")
    )
    error = (
        msg("E", b"SERROR\0VERROR\0C42501\0Mpermission denied for column ssn\0Fpgmask\0\0")
        + msg("N", b"SWARNING\0VWARNING\0C01000\0Mnotice\0\0")
        + msg("Z", b"E")
    )
    copy_out = (
        msg("H", b"\0" + i16(2) + i16(0) + i16(0))
        + msg("d", b"1\tsecret\n")
        + msg("d", b"2\t\\N\n")
        + msg("c")
        + msg("C", cstr("COPY 2"))
        + msg("G", b"\1" + i16(1) + i16(1))
        + msg("W", b"\0" + i16(0))
    )
    notify = msg("A", u32(77) + cstr("channel") + cstr("payload")) + msg("v", i32(2) + i32(1) + cstr("_pq_.x"))
    function_result = msg("V", i32(2) + b"ok") + msg("V", i32(-1))
    for seed, name, stream in [
        (0, "scram_login", login),
        (1, "row_description_and_rows", rows),
        (2, "extended_answers", extended),
        (3, "error_and_notice", error),
        (4, "copy_out", copy_out),
        (5, "notification_and_negotiate", notify),
        (6, "function_call_response", function_result),
        (0, "ready_for_query_bad_length", b"Z" + i32(6) + b"II"),
    ]:
        write("fuzz_backend_frames", name, bytes([seed]) + stream)


# --- startup packets -----------------------------------------------------------------------------

def startup():
    def packet(code, body=b""):
        return u32(len(body) + 8) + u32(code) + body

    params = cstr("user") + cstr("analyst") + cstr("database") + cstr("clinic") + cstr("application_name") + cstr("psql") + b"\0"
    for name, data in [
        ("startup_v3", packet(196608, params)),
        ("startup_v3_2_options", packet(196610, cstr("user") + cstr("u") + cstr("options") + cstr("-c search_path=x") + b"\0")),
        ("startup_no_user", packet(196608, cstr("database") + cstr("clinic") + b"\0")),
        ("startup_v2", packet(131072, params)),
        ("ssl_request", packet(80877103)),
        ("gssenc_request", packet(80877104)),
        ("cancel_request", packet(80877102, u32(4242) + u32(0xDEADBEEF))),
        ("ssl_then_startup", packet(80877103) + packet(196608, params)),
        ("too_long", u32(10001) + u32(196608)),
    ]:
        write("fuzz_startup_packet", name, data)


# --- DataRow masker: [actions][n] [column][type][format][typmod]... then uint16-length DataRows -----

# Column indexes of public.t in fuzz_datarow_masker.cc's policy, and its type table.
C_REDACT, C_REDACT_OWN, C_PARTIAL, C_PARTIAL0, C_EMAIL, C_HASH, C_HASH8 = range(7)
C_YEAR, C_MONTH, C_DECADE, C_BUCKET, C_BUCKET1, C_NULL, C_UNPROTECTED, C_EXPRESSION = range(7, 15)
TYPES = ["text", "varchar", "bpchar", "name", "int2", "int4", "int8", "numeric", "float4", "float8",
         "date", "time", "timestamp", "timestamptz", "uuid", "bool", "json", "jsonb", "inet", "bytea"]


def actions(a, b, c):  # clear 0, tokenize 1, mask 2, null 3, deny 4 for classes A, B, C
    return a + 5 * b + 25 * c


def masker_input(action, fields, rows):
    out = bytes([action, len(fields)])
    for column, type_name, fmt, typmod in fields:
        out += bytes([column, TYPES.index(type_name), fmt, typmod])
    for row in rows:
        body = values(*row)
        out += struct.pack(">H", len(body)) + body
    return out


def numeric_binary(digits, weight, sign, dscale):
    return struct.pack(">hhHh", len(digits), weight, sign, dscale) + b"".join(struct.pack(">h", d) for d in digits)


def datarow_masker():
    text_fields = [(C_PARTIAL0, "text", 0, 0), (C_EMAIL, "varchar", 0, 20), (C_YEAR, "date", 0, 0),
                   (C_BUCKET, "numeric", 0, 0x52), (C_UNPROTECTED, "text", 0, 0)]
    text_rows = [("123-45-6789", "zoe@example.com", "1987-06-15", "1234.50", "clear"),
                 ("Zoë", None, "2000-02-29 BC", "-7", None)]
    write("fuzz_datarow_masker", "text_mask", masker_input(actions(2, 2, 2), text_fields, text_rows))
    write("fuzz_datarow_masker", "text_tokenize", masker_input(actions(1, 1, 1), text_fields, text_rows))
    hash_fields = [(C_HASH, "int4", 0, 0), (C_HASH8, "uuid", 0, 0), (C_HASH, "inet", 0, 0),
                   (C_HASH, "timestamptz", 0, 3), (C_HASH8, "jsonb", 0, 0), (C_NULL, "bool", 0, 0)]
    write("fuzz_datarow_masker", "text_hash", masker_input(actions(2, 2, 2), hash_fields, [
        ("42", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "10.1.2.3/8", "2024-02-29 23:59:59.5+05:30", '{"a": [1, 2]}', "t"),
    ]))
    binary_fields = [(C_REDACT, "int4", 1, 0), (C_BUCKET1, "numeric", 1, 0x31), (C_MONTH, "date", 1, 0),
                     (C_DECADE, "timestamp", 1, 0), (C_HASH, "float8", 1, 0), (C_PARTIAL, "text", 1, 0),
                     (C_REDACT_OWN, "uuid", 1, 0), (C_EXPRESSION, "inet", 1, 0)]
    binary_rows = [(
        struct.pack(">i", 123456),
        numeric_binary([12, 3400], 0, 0, 2),        # 12.34
        struct.pack(">i", -4583),                   # 1987-06-15
        struct.pack(">q", 553348800000000),         # 2017-07-14 12:00:00
        struct.pack(">d", 1.5),
        "secret text".encode(),
        bytes(range(16)),
        bytes([2, 24, 0, 4, 192, 168, 1, 0]),       # 192.168.1.0/24
    ), (struct.pack(">i", -1), numeric_binary([], 0, 0xC000, 0), None, struct.pack(">q", -(1 << 63)),
        struct.pack(">d", float("nan")), b"", None, bytes([3, 64, 0, 16]) + bytes(16))]
    write("fuzz_datarow_masker", "binary_mixed", masker_input(actions(2, 2, 1), binary_fields, binary_rows))
    write("fuzz_datarow_masker", "binary_null_action", masker_input(actions(3, 0, 2), binary_fields, binary_rows))
    write("fuzz_datarow_masker", "deny", masker_input(actions(4, 2, 2), text_fields, text_rows))
    write("fuzz_datarow_masker", "bad_row", masker_input(actions(2, 2, 2), text_fields[:2], [("one",)]))


# --- COPY: [flags][delimiter][quote][escape][null choice][columns][chunk seed][mask seed] + data -----

def copy_header(fmt, header=False, custom=None, columns=3, chunk=0, mask=0b10011001, small=False,
                force_quote_all=False, force_quote_some=False):
    flags = {"text": 0, "csv": 1, "binary": 2}[fmt] | (4 if header else 0) | (16 if small else 0)
    flags |= (32 if force_quote_all else 0) | (64 if force_quote_some else 0)
    delimiter, quote, escape, null_choice = b"\t", b'"', b'"', 0
    if custom is not None:
        flags |= 8
        delimiter, quote, escape, null_choice = custom
    return bytes([flags]) + delimiter + quote + escape + bytes([null_choice, columns, chunk, mask])


def copy_out():
    binary_header = bytes.fromhex("5047434f50590aff0d0a00" "00000000" "00000000")
    tuple1 = bytes.fromhex("0003" "00000004" "00000001" "00000002" "6162" "ffffffff")
    tuple2 = bytes.fromhex("0003" "00000004" "00000002" "00000000" "00000001" "78")
    for name, data in [
        ("text", copy_header("text") + b"1\tsecret\t1.5\n2\t\\N\tx\n3\ta\\tb\t\\N\n"),
        ("text_header", copy_header("text", header=True, columns=2, chunk=5) + b"id\tsecret\n1\tabc\n2\t\\x41\\101\n"),
        ("text_pipe_null", copy_header("text", custom=(b"|", b'"', b'"', 2), columns=2) + b"1|NULL\n2|a\\|b\n"),
        ("csv", copy_header("csv", columns=2, chunk=9) + b'1,"multi\nline"\n2,\n3,"say ""hi"""\n'),
        ("csv_header", copy_header("csv", header=True, columns=2) + b'id,"se,cret"\n1,"a,b"\n'),
        ("csv_custom", copy_header("csv", custom=(b";", b"'", b"\\", 2), columns=3, mask=0b11100100)
         + b"1;'it\\'s';NULL\n2;'';x\n"),
        ("csv_force_quote_all", copy_header("csv", columns=3, force_quote_all=True)
         + b'"1","a,b",\n"2","",""\n'),
        ("csv_force_quote_some", copy_header("csv", columns=3, mask=0b10101010, force_quote_some=True)
         + b'"1",ab,"x"\n"2","a""b",\n'),
        ("binary", copy_header("binary", chunk=3) + binary_header + tuple1 + tuple2 + b"\xff\xff"),
        ("binary_extension", copy_header("binary", columns=0) + bytes.fromhex("5047434f50590aff0d0a00" "00000000" "00000002") + b"xy" + b"\x00\x00\xff\xff"),
        ("no_columns", copy_header("text", columns=0) + b"\n\n"),
        ("small_partial_cap", copy_header("text", columns=1, small=True) + b"x" * 100 + b"\n"),
    ]:
        write("fuzz_copy_out", name, data)


# --- policies ------------------------------------------------------------------------------------

FULL_POLICY = """version: 1
classifications:
  PHI: { tier: restricted, description: "Protected health information (HIPAA)" }
  PII: { tier: confidential }
  PCI: { tier: internal }
  OPEN: { tier: public }
tables:
  public.patients:
    key: id
    columns:
      ssn:   { class: PII, mask: "partial(0, 'XXX-XX-', 4)" }
      email: { class: PII, mask: email }
      dob:   { class: PHI, mask: "generalize(year)" }
      token: { class: PII, mask: tokenize }
      digest: { class: PII, mask: "hash(8)" }
      gone:  { class: PHI, mask: "null" }
  '"Billing"."Cards"':
    columns:
      '"Number"': { class: PCI, mask: "redact('[card]')" }
      amount: { class: PCI, mask: "generalize(100)" }
      decade: { class: PHI, mask: "generalize(decade)" }
roles:
  app_backend: { default: clear }
  analyst:     { PII: tokenize, PHI: mask, PCI: deny }
  '"Support"': { PII: mask, PHI: "null" }
  "*":         { default: mask }
settings:
  inference: allow
  trusted_functions: [lower, pg_catalog.upper, '"MyFunc"']
break_glass:
  roles: [oncall]
  max_minutes: 60
"""

MASKS = ["partial(0, 'XXX-XX-', 4)", "redact('it''s')", "hash(64)", "generalize(month)",
         "generalize(1000000000000000000)", "email", "tokenize"]


def policies():
    for name in ["clinic.yaml", "broken_many.yaml", "broken_syntax.yaml", "duplicate_role.yaml"]:
        shutil.copyfile(REPO / "tests/testdata/policy" / name, CORPUS / "fuzz_policy_loader" / name)
    write("fuzz_policy_loader", "full.yaml", FULL_POLICY.encode())
    write("fuzz_policy_loader", "helm_default.yaml",
          b'version: 1\nclassifications:\n  PII: { tier: confidential }\ntables: {}\nroles:\n  "*": { default: mask }\n')
    write("fuzz_policy_loader", "two_documents.yaml", b"version: 1\n---\nversion: 1\n")
    for i, mask in enumerate(MASKS):
        write("fuzz_policy_loader", f"mask_{i}", mask.encode())


# --- SQL -----------------------------------------------------------------------------------------

STATEMENTS = {
    "select_star": "SELECT * FROM patients LIMIT 5",
    "join": "SELECT p.name, v.diagnosis, v.visited_at FROM public.patients p JOIN visits v ON v.patient_id = p.id WHERE p.ssn = $1",
    "whole_row": "SELECT p, p.* FROM patients AS p ORDER BY p.dob DESC",
    "subquery_cte": "WITH x AS (SELECT ssn FROM patients) SELECT upper(ssn) || '!' FROM x UNION ALL SELECT email FROM (SELECT email FROM patients) s",
    "recursive": "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT * FROM r",
    "returning": "UPDATE patients SET email = lower(email) WHERE id = 1 RETURNING *; DELETE FROM visits RETURNING notes",
    "insert_select": "INSERT INTO archive SELECT card_number, amount FROM payments RETURNING card_number",
    "copy_csv": "COPY patients TO STDOUT WITH CSV DELIMITER '|' NULL 'none' HEADER",
    "copy_query_binary": "COPY (SELECT ssn, dob FROM patients WHERE id > 3) TO STDOUT (FORMAT binary)",
    "copy_columns": "COPY public.patients (id, ssn, email) TO stdout;",
    "copy_options": "COPY visits TO STDOUT (FORMAT csv, QUOTE '''', ESCAPE '\\', FORCE_QUOTE *, NULL '')",
    "copy_from": "COPY patients FROM STDIN",
    "cursor": "BEGIN; DECLARE c CURSOR WITH HOLD FOR SELECT ssn FROM patients; FETCH 10 FROM c; CLOSE c; COMMIT",
    "params": "SELECT $1::text, $12, $3 FROM payments WHERE amount > $2",
    "nesting": "SELECT ((((((1)))))) + (SELECT CASE WHEN a THEN b ELSE (c) END FROM t) || 'x' || 'y'",
    "functions": "SELECT count(*) FILTER (WHERE dob > now()), string_agg(name, ',' ORDER BY name) OVER (PARTITION BY dob) FROM patients GROUP BY ROLLUP (dob)",
    "ddl": "CREATE VIEW v AS SELECT ssn FROM patients; ALTER TABLE patients ADD COLUMN x int; SET search_path = private, public",
    "merge": "MERGE INTO t USING patients p ON t.id = p.id WHEN MATCHED THEN UPDATE SET ssn = p.ssn",
    "syntax_error": "SELEC * FORM patients",
    "dollar_quote": "DO $$BEGIN RAISE NOTICE 'x'; END$$; SELECT E'\\x41', U&'\\0041', $tag$a$tag$",
    "catalog_query": (
        "WITH RECURSIVE pgmask_member(oid) AS ( SELECT oid FROM pg_catalog.pg_roles WHERE rolname = session_user"
        " UNION SELECT m.roleid FROM pg_catalog.pg_auth_members m JOIN pgmask_member p ON m.member = p.oid)"
        " SELECT 'r', r.rolname::text, NULL::text FROM pg_catalog.pg_roles r JOIN pgmask_member USING (oid)"
        " UNION ALL SELECT 'c', NULL, c.oid::text FROM (VALUES (0, 0, E'public', E'patients', E'ssn')) AS v(ti, ci, s, t, col)"
        " JOIN pg_catalog.pg_namespace n ON n.nspname = v.s"),
}


def sql():
    for name, text in STATEMENTS.items():
        write("fuzz_sql", name, text.encode())


# --- scan detectors: a type-family byte, the column name, then newline-separated values -------------
def scan_detectors():
    write("fuzz_scan_detectors", "email", b"\x00email\nada@example.com\nben@example.org\n\x00\n")
    write("fuzz_scan_detectors", "notes",
          b"\x00notes\nCall +1 415 555 2671 or mail a@b.co about 4111 1111 1111 1111.\n123-45-6789 E11.9\n")
    write("fuzz_scan_detectors", "mixed",
          b"\x00home\n221B Baker Street, London\nGB82 WEST 1234 5698 7654 32\n2001:db8::1/64\n")
    write("fuzz_scan_detectors", "bare", b"\x01ssn\n123456789\n912345678\n")


# --- SCRAM termination: a parser-selector byte, then its input (RFC 7677's exchange) --------------
def scram():
    write("fuzz_scram", "client_first", b"\x00n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
    write("fuzz_scram", "client_first_plus", b"\x00p=tls-server-end-point,,n=,r=rOprNGfwEbeRWgbNEkqO")
    write("fuzz_scram", "server_first",
          b"\x01r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    write("fuzz_scram", "client_final",
          b"\x02c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
          b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    write("fuzz_scram", "server_final", b"\x03v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    write("fuzz_scram", "verifier",
          b"\x04SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
          b"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")
    write("fuzz_scram", "auth_file",
          b'\x05; comment\n"user" "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:'
          b'wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="\n"md5user" "md5abc"\n"a""b" "x"\n')
    write("fuzz_scram", "mechanisms", b"\x06SCRAM-SHA-256-PLUS\x00SCRAM-SHA-256\x00\x00")
    write("fuzz_scram", "initial_response", b"\x06SCRAM-SHA-256\x00\x00\x00\x00\x20n,,n=,r=rOprNGfwEbeRWgbNEkqO")
    write("fuzz_scram", "sasl_data", b"\x07r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")


def main():
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    (CORPUS / "fuzz_policy_loader").mkdir(parents=True)
    frontend()
    backend()
    startup()
    datarow_masker()
    copy_out()
    policies()
    sql()
    scan_detectors()
    scram()


if __name__ == "__main__":
    main()

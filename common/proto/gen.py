#!/usr/bin/python3
"""gen.py - generate kq's Kafka message codecs from the schema JSON files.

usage: gen.py SCHEMA_DIR OUT_DIR [FILL_OUT]

Writes OUT_DIR/msgs.h and OUT_DIR/msgs.c (naming rules: share/DESIGN.md,
"Generated protocol code").  Also writes FILL_OUT (default
OUT_DIR/../../tests/fixtures/proto/fill.inc when that directory exists): a C
include for the unit test that fills every struct with non-default values.

Only non-flexible versions get a codec; tagged fields exist only in flexible
versions, so they are declared in the structs but never read or written.
Standard library only.
"""

import json
import os
import re
import sys

PRIM = {
    # type: (C type, reader, writer, min encoded size)
    'int8': ('int8_t', 'kq_rd_i8', 'kq_wr_i8', 1),
    'int16': ('int16_t', 'kq_rd_i16', 'kq_wr_i16', 2),
    'int32': ('int32_t', 'kq_rd_i32', 'kq_wr_i32', 4),
    'int64': ('int64_t', 'kq_rd_i64', 'kq_wr_i64', 8),
    'uint16': ('uint16_t', 'kq_rd_u16', 'kq_wr_u16', 2),
    'uint32': ('uint32_t', 'kq_rd_u32', 'kq_wr_u32', 4),
    'float64': ('double', 'kq_rd_f64', 'kq_wr_f64', 8),
    'bool': ('bool', 'kq_rd_bool', 'kq_wr_bool', 1),
    'uuid': ('struct kq_uuid', 'kq_rd_uuid', 'kq_wr_uuid', 16),
    'string': ('struct kq_str', 'kq_rd_str', 'kq_wr_str', 2),
    'bytes': ('struct kq_bytes', 'kq_rd_bytes', 'kq_wr_bytes', 4),
    'records': ('struct kq_bytes', 'kq_rd_bytes', 'kq_wr_bytes', 4),
}
NULLABLE_TYPES = ('string', 'bytes', 'records')
C_KEYWORDS = set('''auto break case char const continue default do double else
enum extern float for goto if inline int long register restrict return short
signed sizeof static struct switch typedef union unsigned void volatile while
bool'''.split())

INF = 1 << 15


def die(msg):
    sys.stderr.write('gen.py: %s\n' % msg)
    sys.exit(1)


def parse_range(s, what):
    """'3+', '0-4', '1', 'none' -> (lo, hi) inclusive, or None."""
    if s is None:
        return None
    s = str(s).strip()
    if s == 'none':
        return None
    m = re.fullmatch(r'(\d+)\+', s)
    if m:
        return (int(m.group(1)), INF)
    m = re.fullmatch(r'(\d+)-(\d+)', s)
    if m:
        return (int(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r'(\d+)', s)
    if m:
        return (int(s), int(s))
    die('%s: bad version range %r' % (what, s))


def in_range(rng, v):
    return rng is not None and rng[0] <= v <= rng[1]


def load(path):
    with open(path, encoding='utf-8') as f:
        lines = [l for l in f if not l.lstrip().startswith('//')]
    try:
        return json.loads(''.join(lines))
    except ValueError as e:
        die('%s: %s' % (path, e))


class Field:
    def __init__(self, msg, js, where):
        self.name = js['name']
        if self.name in C_KEYWORDS:
            die('%s: field name %s is a C keyword' % (where, self.name))
        self.type = js['type']
        self.js = js
        self.versions = parse_range(js.get('versions'), where + '.' + self.name)
        self.nullable = parse_range(js.get('nullableVersions'), where + '.' + self.name)
        self.tagged = 'taggedVersions' in js or 'tag' in js
        self.default = js.get('default')
        self.is_array = self.type.startswith('[]')
        base = self.type[2:] if self.is_array else self.type
        self.base = base
        self.struct = None          # Struct for struct-typed fields
        if base not in PRIM:
            if 'fields' in js:
                self.struct = msg.add_struct(base, js['fields'], js.get('versions'))
            else:
                self.struct = msg.ref_struct(base, where + '.' + self.name)

    def present(self, v):
        return not self.tagged and in_range(self.versions, v)

    def nullable_in(self, v):
        return in_range(self.nullable, v)


class Struct:
    def __init__(self, msg, name, cname):
        self.msg = msg
        self.name = name
        self.cname = cname          # e.g. ProduceRequest_TopicProduceData
        self.fields = []
        self.top = False

    def min_size(self, v):
        n = 0
        for f in self.fields:
            if not f.present(v):
                continue
            if f.is_array:
                n += 4
            elif f.struct:
                n += f.struct.min_size(v)
            else:
                n += PRIM[f.base][3]
        return n


class Message:
    def __init__(self, js, path):
        self.js = js
        self.path = path
        self.name = js['name']
        self.kind = js['type']
        self.api_key = js.get('apiKey')
        vv = parse_range(js.get('validVersions'), self.name)
        if vv is None:
            die('%s: no validVersions' % path)
        self.min_version, self.max_version = vv
        flex = parse_range(js.get('flexibleVersions'), self.name)
        self.first_flex = flex[0] if flex else None
        # Versions with a codec: valid and not flexible.
        hi = self.max_version
        if self.first_flex is not None:
            hi = min(hi, self.first_flex - 1)
        self.limit = hi + 1          # decode/encode need version < limit
        self.structs = {}           # name -> Struct, definition order kept
        self.order = []
        self.common = {}
        for cs in js.get('commonStructs', []):
            self.common[cs['name']] = cs
        top = Struct(self, self.name, self.name)
        top.top = True
        self.top = top
        top.fields = [Field(self, f, self.name) for f in js.get('fields', [])]
        self.order.append(top)

    def add_struct(self, name, fields, versions):
        if name in self.structs:
            die('%s: struct %s defined twice' % (self.path, name))
        s = Struct(self, name, self.name + '_' + name)
        self.structs[name] = s
        s.fields = [Field(self, f, s.cname) for f in fields]
        # Dependencies first so C sees complete types.
        self.order.append(s)
        return s

    def ref_struct(self, name, where):
        if name in self.structs:
            return self.structs[name]
        if name in self.common:
            cs = self.common[name]
            return self.add_struct(name, cs['fields'], cs.get('versions'))
        die('%s: unknown type %s' % (where, name))


# ---------------------------------------------------------------------------
# C emission helpers

def gate(rng, limit):
    """C condition for version in rng, given 0 <= version < limit; None = always."""
    lo, hi = rng
    if lo == hi and 0 < lo < limit - 1:
        return 'version == %d' % lo
    conds = []
    if lo > 0:
        conds.append('version >= %d' % lo)
    if hi < limit - 1:
        conds.append('version <= %d' % hi)
    return ' && '.join(conds) if conds else None


def nullable_expr(f, msg):
    vs = [v for v in range(msg.limit) if f.present(v)]
    ns = [v for v in vs if f.nullable_in(v)]
    if not ns:
        return 'false'
    if len(ns) == len(vs):
        return 'true'
    lo, hi = f.nullable
    return '(' + (gate((max(lo, 0), hi), msg.limit) or 'true') + ')'


def c_int_literal(ctype, val):
    if ctype == 'int32_t' and val == -(1 << 31):
        return 'INT32_MIN'
    if ctype == 'int64_t' and val == -(1 << 63):
        return 'INT64_MIN'
    if ctype == 'int64_t' and not (-(1 << 31) <= val < (1 << 31)):
        return 'INT64_C(%d)' % val
    if val > 0xffff and ctype in ('int32_t', 'uint32_t'):
        return '0x%x' % val
    return '%d' % val


def c_string(s):
    out = []
    for ch in s:
        if ch in '\\"':
            out.append('\\' + ch)
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            for b in ch.encode('utf-8'):
                out.append('\\%03o' % b)
    return '"' + ''.join(out) + '"'


def default_stmt(f):
    """Statement setting m->field to its JSON default after memset 0, or None."""
    d = f.default
    n = 'm->' + f.name
    if f.is_array:
        if d == 'null':
            return '%s_count = -1;' % n
        return None
    if f.struct:
        return 'kq_%s_init(&%s);' % (f.struct.cname, n)
    ctype = PRIM[f.base][0]
    if f.base == 'string':
        if d == 'null':
            return '%s = KQ_STR_NULL;' % n
        s = '' if d is None else str(d)
        return '%s = (struct kq_str){ %s, %d };' % (n, c_string(s), len(s.encode('utf-8')))
    if f.base == 'bytes':
        if d == 'null':
            return '%s = KQ_BYTES_NULL;' % n
        return '%s = (struct kq_bytes){ (const unsigned char *)"", 0 };' % n
    if f.base == 'records':
        # Kafka's default for records is null where it may be null.
        if f.nullable is not None and d != '':
            return '%s = KQ_BYTES_NULL;' % n
        return '%s = (struct kq_bytes){ (const unsigned char *)"", 0 };' % n
    if d is None:
        return None
    if f.base == 'bool':
        if d is True or str(d).lower() == 'true':
            return '%s = true;' % n
        return None
    if f.base == 'uuid':
        return None
    if f.base == 'float64':
        v = float(d)
        return None if v == 0 else '%s = %r;' % (n, v)
    v = d if isinstance(d, int) else int(str(d), 0)
    if v == 0:
        return None
    return '%s = %s;' % (n, c_int_literal(ctype, v))


class Out:
    def __init__(self):
        self.lines = []

    def __call__(self, s=''):
        self.lines.append(s)

    def text(self):
        return '\n'.join(self.lines) + '\n'


def emit_header(msgs):
    o = Out()
    o('/*')
    o(' * msgs.h - Kafka message structs and codecs.  GENERATED by common/proto/gen.py')
    o(' * from the schemas in ../shared/spec/kafka-messages; do not edit, run `make gen`.')
    o(' *')
    o(' * Per message X (naming rules: share/DESIGN.md):')
    o(' *   void kq_X_init(struct kq_X *m): zero and apply the schema defaults.')
    o(' *   int kq_X_decode(struct kq_rd *r, int16_t version, struct kq_arena *a,')
    o(' *       struct kq_X *m): init, then read; 0 or the reader error;')
    o(' *       KQ_ERR_UNSUPPORTED for a flexible or unknown version.  Arrays are')
    o(' *       allocated from a; strings and bytes point into the reader\'s buffer,')
    o(' *       so both must outlive m.  Fields absent in the version keep defaults.')
    o(' *   void kq_X_encode(struct kq_buf *w, int16_t version, const struct kq_X *m):')
    o(' *       append the body; asserts that version is a non-flexible valid one.')
    o(' *       Fields absent in the version are not written.  Encoding trusts m:')
    o(' *       a null string, bytes or array (-1) is written as null even where the')
    o(' *       version does not allow it, and strings over INT16_MAX bytes abort.')
    o(' * Nested structs have only _init, used to prepare array elements.')
    o(' * Data schemas (ConsumerProtocolSubscription, OffsetCommitKey, ...) start at')
    o(' * the body: the caller reads and writes their INT16 version prefix.')
    o(' * All functions are reentrant; nothing here allocates except from a (decode)')
    o(' * or w (encode).')
    o(' */')
    o('#ifndef KQ_MSGS_H')
    o('#define KQ_MSGS_H')
    o()
    o('#include "proto.h"')
    o()
    for m in msgs:
        o('/* %s: %s, versions %d-%d, first flexible %s */' % (
            m.name, os.path.basename(m.path), m.min_version, m.max_version,
            m.first_flex if m.first_flex is not None else 'none'))
        for s in m.order:
            o('struct kq_%s {' % s.cname)
            if not s.fields:
                o('\tchar unused_;\t/* empty in every version */')
            for f in s.fields:
                vr = f.js.get('versions', 'none')
                note = 'v' + vr
                if f.nullable is not None:
                    note += ', nullable ' + f.js['nullableVersions']
                if f.tagged:
                    note += ', tagged (flexible only)'
                if f.is_array:
                    if f.struct:
                        et = 'struct kq_%s' % f.struct.cname
                    else:
                        et = PRIM[f.base][0]
                    o('\t%s *%s;\t/* %s */' % (et, f.name, note))
                    o('\tint32_t %s_count;\t/* %s */' % (
                        f.name, '-1 = null' if f.nullable is not None else 'never -1'))
                elif f.struct:
                    o('\tstruct kq_%s %s;\t/* %s */' % (f.struct.cname, f.name, note))
                else:
                    o('\t%s %s;\t/* %s */' % (PRIM[f.base][0], f.name, note))
            o('};')
            o()
        for s in m.order:
            o('void kq_%s_init(struct kq_%s *m);' % (s.cname, s.cname))
        o('int kq_%s_decode(struct kq_rd *r, int16_t version, struct kq_arena *a,' % m.name)
        o('\tstruct kq_%s *m);' % m.name)
        o('void kq_%s_encode(struct kq_buf *w, int16_t version, const struct kq_%s *m);'
          % (m.name, m.name))
        o()
    o('/*')
    o(' * Generic dispatch by API key, for tests, fuzzing and tracing.  out / m point')
    o(' * to the struct for (api_key, is_response), kq_msg_size() bytes.  Unknown keys')
    o(' * and flexible versions give KQ_ERR_UNSUPPORTED (encode too, instead of')
    o(' * asserting).')
    o(' */')
    o('int kq_msg_decode(int16_t api_key, bool is_response, int16_t version,')
    o('\tstruct kq_rd *r, struct kq_arena *a, void *out);')
    o('int kq_msg_encode(int16_t api_key, bool is_response, int16_t version,')
    o('\tstruct kq_buf *w, const void *m);')
    o('size_t kq_msg_size(int16_t api_key, bool is_response);\t/* 0 if unknown */')
    o('int kq_msg_init(int16_t api_key, bool is_response, void *m);\t/* 0 or KQ_ERR_UNSUPPORTED */')
    o('/* "Produce", "ApiVersions", ...; "Unknown" for other keys; never NULL. */')
    o('const char *kq_api_name(int16_t api_key);')
    o('/* First flexible version; INT16_MAX if none is; -1 for an unknown key. */')
    o('int16_t kq_api_first_flexible(int16_t api_key);')
    o('/* Highest version in the schema\'s validVersions; -1 for an unknown key. */')
    o('int16_t kq_api_max_version(int16_t api_key);')
    o()
    o('#endif')
    return o.text()


def emit_decode_field(o, f, msg, ind):
    n = 'm->' + f.name
    if f.is_array:
        if f.struct:
            minsz = 'minsz_%s[version]' % f.struct.cname
        else:
            minsz = '%d' % PRIM[f.base][3]
        o('%s%s_count = kq_rd_array(r, %s, %s);' % (ind, n, minsz, nullable_expr(f, msg)))
        o('%sif (%s_count > 0) {' % (ind, n))
        o('%s\t%s = kq_arena_alloc(a, (size_t)%s_count * sizeof(*%s));' % (ind, n, n, n))
        o('%s\tfor (i = 0; i < %s_count && r->err == 0; i++)' % (ind, n))
        if f.struct:
            o('%s\t\tdec_%s(r, version, a, &%s[i]);' % (ind, f.struct.cname, n))
        elif f.base in NULLABLE_TYPES:
            o('%s\t\t%s[i] = %s(r, false);' % (ind, n, PRIM[f.base][1]))
        else:
            o('%s\t\t%s[i] = %s(r);' % (ind, n, PRIM[f.base][1]))
        o('%s}' % ind)
    elif f.struct:
        o('%sdec_%s(r, version, a, &%s);' % (ind, f.struct.cname, n))
    elif f.base in NULLABLE_TYPES:
        o('%s%s = %s(r, %s);' % (ind, n, PRIM[f.base][1], nullable_expr(f, msg)))
    else:
        o('%s%s = %s(r);' % (ind, n, PRIM[f.base][1]))


def emit_encode_field(o, f, msg, ind):
    n = 'm->' + f.name
    if f.is_array:
        o('%skq_wr_i32(w, %s_count);' % (ind, n))
        o('%sfor (i = 0; i < %s_count; i++)' % (ind, n))
        if f.struct:
            o('%s\tenc_%s(w, version, &%s[i]);' % (ind, f.struct.cname, n))
        else:
            o('%s\t%s(w, %s[i]);' % (ind, PRIM[f.base][2], n))
    elif f.struct:
        o('%senc_%s(w, version, &%s);' % (ind, f.struct.cname, n))
    else:
        o('%s%s(w, %s);' % (ind, PRIM[f.base][2], n))


def field_block(o, f, msg, emit):
    """Emit one field's code under its version gate, one statement per field."""
    vs = [v for v in range(msg.limit) if f.present(v)]
    if not vs:
        return
    lo, hi = f.versions
    g = gate((lo, min(hi, msg.limit - 1)), msg.limit)
    multi = f.is_array
    if g is None:
        if multi:
            o('\t/* %s */' % f.name)
        emit(o, f, msg, '\t')
    elif multi:
        o('\tif (%s) {\t/* %s */' % (g, f.name))
        emit(o, f, msg, '\t\t')
        o('\t}')
    else:
        o('\tif (%s)\t/* %s */' % (g, f.name))
        emit(o, f, msg, '\t\t')


def live_structs(msg):
    """Structs reached by a field present in some non-flexible version."""
    live = set()

    def walk(s):
        for f in s.fields:
            if f.struct and f.struct.cname not in live and \
                    any(f.present(v) for v in range(msg.limit)):
                live.add(f.struct.cname)
                walk(f.struct)
    walk(msg.top)
    return live


def has_live_array(s, msg):
    return any(f.is_array and any(f.present(v) for v in range(msg.limit)) for f in s.fields)


def unused(o, body, params):
    """Copy body into o, first marking parameters the body never uses."""
    text = '\n'.join(body.lines)
    for p in params:
        if not re.search(r'\b%s\b' % p, text):
            o('\t(void)%s;' % p)
    o.lines.extend(body.lines)


def emit_source(msgs):
    o = Out()
    o('/*')
    o(' * msgs.c - Kafka message codecs.  GENERATED by common/proto/gen.py; do not')
    o(' * edit, run `make gen`.  See msgs.h for the contract.')
    o(' *')
    o(' * Decoders read straight through and test the reader\'s sticky error once;')
    o(' * array counts are checked against the bytes left (count * minimum element')
    o(' * size) before anything is allocated.')
    o(' */')
    o('#include <string.h>')
    o()
    o('#include "proto.h"')
    for m in msgs:
        live_set = live_structs(m)
        structs = m.order
        o()
        o('/* ' + '-' * 70 + ' */')
        o('/* %s */' % m.name)
        o()
        # Minimum encoded sizes per version for array element structs.
        for s in structs:
            if s.top or s.cname not in live_set:
                continue
            sizes = [s.min_size(v) for v in range(m.limit)]
            o('static const size_t minsz_%s[%d] = { %s };' % (
                s.cname, m.limit, ', '.join(str(x) for x in sizes)))
        if live_set:
            o()
        for s in structs:
            if s.cname in live_set:
                o('static void dec_%s(struct kq_rd *, int16_t, struct kq_arena *, struct kq_%s *);'
                  % (s.cname, s.cname))
                o('static void enc_%s(struct kq_buf *, int16_t, const struct kq_%s *);'
                  % (s.cname, s.cname))
        if live_set:
            o()
        for s in structs:
            # init
            o('void')
            o('kq_%s_init(struct kq_%s *m)' % (s.cname, s.cname))
            o('{')
            o('\tmemset(m, 0, sizeof(*m));')
            for f in s.fields:
                st = default_stmt(f)
                if st:
                    o('\t' + st)
            o('}')
            o()
            if not s.top and s.cname not in live_set:
                continue
            live = has_live_array(s, m)
            # decode
            if s.top:
                o('int')
                o('kq_%s_decode(struct kq_rd *r, int16_t version, struct kq_arena *a,' % s.cname)
                o('\tstruct kq_%s *m)' % s.cname)
            else:
                o('static void')
                o('dec_%s(struct kq_rd *r, int16_t version, struct kq_arena *a,' % s.cname)
                o('\tstruct kq_%s *m)' % s.cname)
            o('{')
            if live:
                o('\tint32_t i;')
                o()
            if s.top:
                o('\tif (version < %d || version >= %d)' % (m.min_version, m.limit))
                o('\t\treturn KQ_ERR_UNSUPPORTED;')
            o('\tkq_%s_init(m);' % s.cname)
            body = Out()
            for f in s.fields:
                field_block(body, f, m, emit_decode_field)
            if s.top:
                body('\treturn r->err;')
            unused(o, body, ('r', 'version', 'a'))
            o('}')
            o()
            # encode
            if s.top:
                o('void')
                o('kq_%s_encode(struct kq_buf *w, int16_t version, const struct kq_%s *m)'
                  % (s.cname, s.cname))
            else:
                o('static void')
                o('enc_%s(struct kq_buf *w, int16_t version, const struct kq_%s *m)'
                  % (s.cname, s.cname))
            o('{')
            if live:
                o('\tint32_t i;')
                o()
            if s.top:
                o('\tKQ_ASSERT(version >= %d && version < %d);' % (m.min_version, m.limit))
            body = Out()
            for f in s.fields:
                field_block(body, f, m, emit_encode_field)
            unused(o, body, ('w', 'version', 'm'))
            o('}')
            o()
    # dispatch
    apis = {}
    for m in msgs:
        if m.api_key is not None:
            apis.setdefault(m.api_key, {})[m.kind] = m
    keys = sorted(apis)
    for k in keys:
        if set(apis[k]) != {'request', 'response'}:
            die('api key %d lacks a request or a response schema' % k)

    def switch(o, ret_unknown, body):
        o('\tswitch (api_key) {')
        for k in keys:
            o('\tcase %d:' % k)
            body(o, apis[k]['request'], apis[k]['response'])
        o('\tdefault:')
        o('\t\treturn %s;' % ret_unknown)
        o('\t}')
    o('/* ' + '-' * 70 + ' */')
    o('/* Generic dispatch */')
    o()
    o('int')
    o('kq_msg_decode(int16_t api_key, bool is_response, int16_t version,')
    o('\tstruct kq_rd *r, struct kq_arena *a, void *out)')
    o('{')
    switch(o, 'KQ_ERR_UNSUPPORTED', lambda o, q, p: (
        o('\t\treturn is_response ? kq_%s_decode(r, version, a, out) :' % p.name),
        o('\t\t    kq_%s_decode(r, version, a, out);' % q.name)))
    o('}')
    o()
    o('int')
    o('kq_msg_encode(int16_t api_key, bool is_response, int16_t version,')
    o('\tstruct kq_buf *w, const void *m)')
    o('{')
    o('\tif (version < 0 || version >= kq_api_first_flexible(api_key) ||')
    o('\t    version > kq_api_max_version(api_key))')
    o('\t\treturn KQ_ERR_UNSUPPORTED;')

    def enc_case(o, q, p):
        o('\t\tif (version < %d || version < %d)' % (q.min_version, p.min_version))
        o('\t\t\treturn KQ_ERR_UNSUPPORTED;')
        o('\t\tif (is_response)')
        o('\t\t\tkq_%s_encode(w, version, m);' % p.name)
        o('\t\telse')
        o('\t\t\tkq_%s_encode(w, version, m);' % q.name)
        o('\t\treturn 0;')
    switch(o, 'KQ_ERR_UNSUPPORTED', enc_case)
    o('}')
    o()
    o('size_t')
    o('kq_msg_size(int16_t api_key, bool is_response)')
    o('{')
    switch(o, '0', lambda o, q, p: (
        o('\t\treturn is_response ? sizeof(struct kq_%s) :' % p.name),
        o('\t\t    sizeof(struct kq_%s);' % q.name)))
    o('}')
    o()
    o('int')
    o('kq_msg_init(int16_t api_key, bool is_response, void *m)')
    o('{')

    def init_case(o, q, p):
        o('\t\tif (is_response)')
        o('\t\t\tkq_%s_init(m);' % p.name)
        o('\t\telse')
        o('\t\t\tkq_%s_init(m);' % q.name)
        o('\t\treturn 0;')
    switch(o, 'KQ_ERR_UNSUPPORTED', init_case)
    o('}')
    o()
    o('const char *')
    o('kq_api_name(int16_t api_key)')
    o('{')
    switch(o, '"Unknown"', lambda o, q, p: o('\t\treturn "%s";' % q.name[:-len('Request')]))
    o('}')
    o()
    o('int16_t')
    o('kq_api_first_flexible(int16_t api_key)')
    o('{')

    def flex_case(o, q, p):
        fs = [x.first_flex for x in (q, p) if x.first_flex is not None]
        if q.first_flex != p.first_flex:
            die('%s and %s disagree on flexibleVersions' % (q.name, p.name))
        o('\t\treturn %s;' % (fs[0] if fs else 'INT16_MAX'))
    switch(o, '-1', flex_case)
    o('}')
    o()
    o('int16_t')
    o('kq_api_max_version(int16_t api_key)')
    o('{')
    switch(o, '-1', lambda o, q, p: o('\t\treturn %d;' % q.max_version))
    o('}')
    return o.text()


def emit_fill(msgs):
    """Test helper: fill_X(m, a, seed) sets every field to a non-default value."""
    o = Out()
    o('/*')
    o(' * fill.inc - GENERATED by common/proto/gen.py for tests/unit/test-proto.c:')
    o(' * fill_<Struct>(m, a, seed) gives every field (all versions) a non-default,')
    o(' * non-null value; arrays get two elements from arena a.  Do not edit.')
    o(' */')
    for m in msgs:
        for s in m.order:
            o('static void fill_%s(struct kq_%s *, struct kq_arena *, int *);' % (s.cname, s.cname))
    o()

    def val(f, target, ind):
        b = f.base
        if f.struct:
            return ['%sfill_%s(&%s, a, seed);' % (ind, f.struct.cname, target)]
        if b == 'bool':
            d = f.default
            v = 'false' if (d is True or str(d).lower() == 'true') else 'true'
            return ['%s%s = %s;' % (ind, target, v)]
        if b == 'uuid':
            return ['%smemset(%s.b, 0x40 + (*seed)++ %% 64, 16);' % (ind, target)]
        if b == 'string':
            return ['%s%s = fill_str(a, (*seed)++);' % (ind, target)]
        if b in ('bytes', 'records'):
            return ['%s%s = fill_bytes(a, (*seed)++);' % (ind, target)]
        if b == 'float64':
            return ['%s%s = 0.5 + (*seed)++;' % (ind, target)]
        # Small positive values never equal a default (-1, 0, INT32_MIN,
        # 0x7fffffff, 60000, 1): keep away from 0 and 1.
        ctype = PRIM[b][0]
        return ['%s%s = (%s)(2 + (*seed)++ %% 100);' % (ind, target, ctype)]

    for m in msgs:
        for s in m.order:
            o('static void')
            o('fill_%s(struct kq_%s *m, struct kq_arena *a, int *seed)' % (s.cname, s.cname))
            o('{')
            if any(f.is_array for f in s.fields):
                o('\tint32_t i;')
                o()
            o('\tkq_%s_init(m);' % s.cname)
            o('\t(void)a;')
            o('\t(void)seed;')
            for f in s.fields:
                if f.is_array:
                    n = 'm->' + f.name
                    o('\t%s_count = 2;' % n)
                    o('\t%s = kq_arena_alloc(a, 2 * sizeof(*%s));' % (n, n))
                    o('\tfor (i = 0; i < 2; i++) {')
                    for line in val(f, '%s[i]' % n, '\t\t'):
                        o(line)
                    o('\t}')
                else:
                    for line in val(f, 'm->' + f.name, '\t'):
                        o(line)
            o('}')
            o()
    # Table of every message with an api key or not, for generic tests.
    o('struct fill_msg {')
    o('\tconst char *name;')
    o('\tint api_key;\t\t/* -1 for data and header schemas */')
    o('\tbool is_response;')
    o('\tint16_t min_version, limit;\t/* codec versions: min_version..limit-1 */')
    o('\tsize_t size;')
    o('\tvoid (*init)(void *);')
    o('\tvoid (*fill)(void *, struct kq_arena *, int *);')
    o('\tint (*decode)(struct kq_rd *, int16_t, struct kq_arena *, void *);')
    o('\tvoid (*encode)(struct kq_buf *, int16_t, const void *);')
    o('};')
    o()
    for m in msgs:
        n = m.name
        o('static void initv_%s(void *m) { kq_%s_init(m); }' % (n, n))
        o('static void fillv_%s(void *m, struct kq_arena *a, int *s) { fill_%s(m, a, s); }' % (n, n))
        o('static int decv_%s(struct kq_rd *r, int16_t v, struct kq_arena *a, void *m) '
          '{ return kq_%s_decode(r, v, a, m); }' % (n, n))
        o('static void encv_%s(struct kq_buf *w, int16_t v, const void *m) '
          '{ kq_%s_encode(w, v, m); }' % (n, n))
    o()
    o('static const struct fill_msg fill_msgs[] = {')
    for m in msgs:
        n = m.name
        o('\t{ "%s", %d, %s, %d, %d, sizeof(struct kq_%s),' % (
            n, m.api_key if m.api_key is not None else -1,
            'true' if m.kind == 'response' else 'false',
            m.min_version, m.limit, n))
        o('\t    initv_%s, fillv_%s, decv_%s, encv_%s },' % (n, n, n, n))
    o('};')
    return o.text()


def main():
    if len(sys.argv) not in (3, 4):
        die('usage: gen.py SCHEMA_DIR OUT_DIR [FILL_OUT]')
    sdir, odir = sys.argv[1], sys.argv[2]
    if len(sys.argv) == 4:
        fill_out = sys.argv[3]
    else:
        d = os.path.join(odir, '..', '..', 'tests', 'fixtures', 'proto')
        fill_out = os.path.join(d, 'fill.inc') if os.path.isdir(d) else None
    files = sorted(f for f in os.listdir(sdir) if f.endswith('.json'))
    if not files:
        die('%s: no *.json schemas' % sdir)
    msgs = []
    for fn in files:
        js = load(os.path.join(sdir, fn))
        if js.get('type') not in ('request', 'response', 'header', 'data'):
            die('%s: unknown schema type %r' % (fn, js.get('type')))
        msgs.append(Message(js, os.path.join(sdir, fn)))
    names = [m.name for m in msgs]
    if len(set(names)) != len(names):
        die('duplicate message names')
    outputs = [(os.path.join(odir, 'msgs.h'), emit_header(msgs)),
               (os.path.join(odir, 'msgs.c'), emit_source(msgs))]
    if fill_out:
        outputs.append((fill_out, emit_fill(msgs)))
    for path, text in outputs:
        tmp = path + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(tmp, path)


if __name__ == '__main__':
    main()

"""Test data for the YAML reader of process_exporter.py (test_process_exporter.py's
YAMLTest): documents in the subset it reads, with what they read as, and documents
outside it, with the line and the words of the one-line error each must give."""

PROCESS_EXPORTER = r'''process_names:
  # comment
  - name: "{{.Comm}}"
    cmdline:
    - '.+'
  - name: "{{.Matches.Jar}}"
    exe: [java, /usr/bin/java]
    cmdline:
      - -jar\s+(?P<Jar>\S+)
  - comm:
    - bash
'''

WEB_CONFIG = '''tls_server_config:
  cert_file: server.crt
  key_file: "server.key"
  client_auth_type: "RequireAndVerifyClientCert"
  min_version: TLS12
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
basic_auth_users:
  alice: $2y$10$mDwo.lAisC94iLAWPDoBsu.ZKRBJcwR7c3gSb0Ao3vDSu6EGKZWHm
  bob: 'pbkdf2-sha256$600000$c2FsdA==$aGFzaA=='
'''

PROCESS_EXPORTER_VALUE = {'process_names': [
    {'name': '{{.Comm}}', 'cmdline': ['.+']},
    {'name': '{{.Matches.Jar}}', 'exe': ['java', '/usr/bin/java'],
     'cmdline': [r'-jar\s+(?P<Jar>\S+)']},
    {'comm': ['bash']}]}

WEB_CONFIG_VALUE = {
    'tls_server_config': {'cert_file': 'server.crt', 'key_file': 'server.key',
                          'client_auth_type': 'RequireAndVerifyClientCert',
                          'min_version': 'TLS12'},
    'http_server_config': {'http2': 'false', 'headers': {'X-Frame-Options': 'deny'}},
    'basic_auth_users': {
        'alice': '$2y$10$mDwo.lAisC94iLAWPDoBsu.ZKRBJcwR7c3gSb0Ao3vDSu6EGKZWHm',
        'bob': 'pbkdf2-sha256$600000$c2FsdA==$aGFzaA=='}}

# (document, expected value, whether PyYAML's safe_load gives the same value)
SUPPORTED = [
    # empty documents
    ('', None, True),
    ('\n  \n', None, True),
    ('\t\n  \t\n', None, False),  # PyYAML rejects any tab outside quotes
    ('# only a comment\n', None, True),
    ('---\n', None, True),
    ('--- # start\n# nothing else\n', None, True),
    ('\ufeff', None, True),
    # a document that is a single scalar or flow sequence
    ('hello world', 'hello world', True),
    ('"quoted"\n', 'quoted', True),
    ('[a, b]', ['a', 'b'], True),
    # block mappings
    ('a: b\nc: d\n', {'a': 'b', 'c': 'd'}, True),
    ('a:\n  b:\n    c: d\n  e: f\ng: h\n', {'a': {'b': {'c': 'd'}, 'e': 'f'}, 'g': 'h'}, True),
    ('a:\n     b: c\nd:\n e: f\n', {'a': {'b': 'c'}, 'd': {'e': 'f'}}, True),
    ('  a: b\n  c: d\n', {'a': 'b', 'c': 'd'}, True),
    ('a:\n  b\n', {'a': 'b'}, True),
    # empty values and nulls
    ('a:\nb: ~\nc: null\nd: Null\ne: NULL\nf:   \ng: # comment\n',
     dict.fromkeys('abcdefg'), True),
    ('a: "null"\nb: \'~\'\nc: nullx\nd: ~x\n', {'a': 'null', 'b': '~', 'c': 'nullx', 'd': '~x'},
     True),
    # no conversion of booleans, numbers, dates
    ('a: true\nb: 10\nc: 1.5\nd: no\ne: 0x1F\nf: 2001-01-01\ng: .inf\n',
     {'a': 'true', 'b': '10', 'c': '1.5', 'd': 'no', 'e': '0x1F', 'f': '2001-01-01',
      'g': '.inf'}, False),
    # keys
    ('"a b": 1\n\'c\': 2\nd e: 3\n"f" : 4\ng : 5\nh#i: 6\n"": 7\n\'<<\': 8\n',
     {'a b': '1', 'c': '2', 'd e': '3', 'f': '4', 'g': '5', 'h#i': '6', '': '7', '<<': '8'},
     False),
    ('a:\tb\nc:\t\n', {'a': 'b', 'c': None}, False),
    ('http://x: y\n', {'http://x': 'y'}, True),
    ('null: a\n~: b\n', {'null': 'a', '~': 'b'}, False),
    # block sequences
    ('- a\n- b\n', ['a', 'b'], True),
    ('-\n- ~\n-  # comment\n', [None, None, None], True),
    ('- - a\n  - b\n- - - c\n', [['a', 'b'], [['c']]], True),
    ('-\n  - a\n-\n  b: c\n-\n  d\n', [['a'], {'b': 'c'}, 'd'], True),
    ('a:\n  - b\n  - c\nd: e\n', {'a': ['b', 'c'], 'd': 'e'}, True),
    # a sequence at the indentation of its key
    ('a:\n- b\n- c\nd:\n- e\n', {'a': ['b', 'c'], 'd': ['e']}, True),
    ('- a:\n  - b\n  c: d\n', [{'a': ['b'], 'c': 'd'}], True),
    # mappings inside sequence items
    ('- a: 1\n  b: 2\n- c: 3\n', [{'a': '1', 'b': '2'}, {'c': '3'}], True),
    ('-   a: 1\n    b:\n      c: 2\n', [{'a': '1', 'b': {'c': '2'}}], True),
    ('- a: 1\n  b:\n  - x\n  - y\n  c: 2\n', [{'a': '1', 'b': ['x', 'y'], 'c': '2'}], True),
    # flow sequences
    ('a: [a, "b, c", \'d\']\n', {'a': ['a', 'b, c', 'd']}, True),
    ('a: []\nb: [ ]\nc: [x,]\nd: [ x , y ]\n', {'a': [], 'b': [], 'c': ['x'], 'd': ['x', 'y']},
     True),
    ('a: [~, null, "null", \'\']\n', {'a': [None, None, 'null', '']}, True),
    ('a: [b c, d#e, -f, "g]", \'h,\']  # comment\n',
     {'a': ['b c', 'd#e', '-f', 'g]', 'h,']}, True),
    ('- [a]\n- []\n', [['a'], []], True),
    # plain scalars
    ('a: b   c  \nd: e # f\ng: h#i\nj: k:l\nm: http://x:80/p?q=1#f\n',
     {'a': 'b   c', 'd': 'e', 'g': 'h#i', 'j': 'k:l', 'm': 'http://x:80/p?q=1#f'}, True),
    ('a: -1\nb: :x\nc: ?x\nd: b]\ne: x{y}\nf: a, b\ng: C:\\dir\nh: \'\'\n',
     {'a': '-1', 'b': ':x', 'c': '?x', 'd': 'b]', 'e': 'x{y}', 'f': 'a, b', 'g': 'C:\\dir',
      'h': ''}, False),
    ('e: ----\nf: ü漢😀\n', {'e': '----', 'f': 'ü漢😀'}, True),
    ('a: b\tc\nd: <<\n', {'a': 'b\tc', 'd': '<<'}, False),  # PyYAML: tab, merge as value
    # single-quoted scalars
    ("a: 'it''s'\nb: ''\nc: 'x # y'\nd: 'e: f'\ng: '\\n'\nh: '  sp  '\ni: 'a\"b'  # c\n",
     {'a': "it's", 'b': '', 'c': 'x # y', 'd': 'e: f', 'g': '\\n', 'h': '  sp  ', 'i': 'a"b'},
     True),
    # double-quoted scalars and every supported escape
    (r'a: "\\ \" \/ \n \t \r \0 \x41 \u00e9 \U0001F600"' + '\nb: ""\nc: "x # y"\nd: "\'"\n',
     {'a': '\\ " / \n \t \r \0 A \u00e9 \U0001F600', 'b': '', 'c': 'x # y', 'd': "'"}, True),
    # comments and blank lines anywhere
    ('# top\n\na: # after key\n  # indented\n  b: c # after\n\n'
     '  d:\n  - e # after item\n  -   # empty item\n    \nf: [g] # after flow\n# end',
     {'a': {'b': 'c', 'd': ['e', None]}, 'f': ['g']}, True),
    ('a: 1\n\t# tab-indented comment\nb: 2\n', {'a': '1', 'b': '2'}, False),
    ('a: "#" # c\nb: \'#\'\n', {'a': '#', 'b': '#'}, True),
    # line endings, byte-order mark, document start
    ('a: b\r\nc:\r\n  - d\r\n', {'a': 'b', 'c': ['d']}, True),
    ('a: b\rc: d\r', {'a': 'b', 'c': 'd'}, True),
    ('\ufeffa: b\n', {'a': 'b'}, True),
    ('# c\n---\na: b\n', {'a': 'b'}, True),
    (PROCESS_EXPORTER, PROCESS_EXPORTER_VALUE, True),
    (WEB_CONFIG, WEB_CONFIG_VALUE, True),  # PyYAML's False compared as 'false'
]

# (document, line number of the error, words the message must contain)
ERRORS = [
    # tabs in indentation
    ('a:\n\tb: c\n', 2, 'tabs'),
    ('a:\n  \tb: c\n', 2, 'tabs'),
    ('a:\n  - b\n  -\tc: d\n', 3, 'tabs'),
    # duplicate keys
    ('a: 1\nb: 2\na: 3\n', 3, "duplicate key 'a'"),
    ('a:\n  b: 1\n  c:\n    d: 1\n  b: 2\n', 5, "duplicate key 'b'"),
    ('"a": 1\na: 2\n', 2, 'duplicate key'),
    ('"a\\nb": 1\n"a\\nb": 2\n', 2, 'duplicate key'),
    # inconsistent indentation
    ('a:\n    b: 1\n  c: 2\n', 3, 'inconsistent indentation'),
    ('- a: 1\n b: 2\n', 2, 'inconsistent indentation'),
    ('  a: 1\nb: 2\n', 2, 'inconsistent indentation'),
    ('a:\n  - b\n - c\n', 3, 'inconsistent indentation'),
    ('a: "x"\n  b: c\n', 2, 'inconsistent indentation'),
    ('a: [x]\n  y\n', 2, 'inconsistent indentation'),
    # mapping keys and sequence items mixed at one level
    ('a: 1\n- b\n', 2, 'mixed'),
    ('- a\nb: 1\n', 2, 'mixed'),
    ('a:\n  - x\n  b: y\n', 3, 'mixed'),
    ('- a: 1\n  - b\n', 2, 'mixed'),
    ('a:\n- b\nc: d\n- e\n', 4, 'mixed'),
    # text after a closing quote or bracket
    ('a: "x" y\n', 1, 'after the closing quote'),
    ("a:\n  b: 'x'y\n", 2, 'after the closing quote'),
    ('a: "x"#c\n', 1, 'after the closing quote'),
    ('"a"x: b\n', 1, 'after the closing quote'),
    ('a: [x] y\n', 1, 'after the closing bracket'),
    ('a: ["x" y]\n', 1, 'unexpected'),
    ('a: [x: y]\n', 1, "unexpected ':'"),
    # unclosed quotes and brackets
    ('a: 1\nb: "x\n', 2, 'unclosed quote'),
    ("a: 'x\n  y'\n", 1, 'unclosed quote'),
    ('a: "x\\"\n', 1, 'unclosed quote'),
    ('a: b\nc: [x, y\n', 2, "unclosed '['"),
    ('a: [x, # c\n  y]\n', 1, "unclosed '['"),
    ('a: [\n', 1, "unclosed '['"),
    # multi-line plain scalars
    ('a: b\n  c\n', 2, 'continued on the next line'),
    ('- a\n  b\n', 2, 'continued on the next line'),
    ('a:\n  b\n  c\n', 3, 'continued on the next line'),
    ('hello\nworld\n', 2, 'continued on the next line'),
    ('- a: b\n    c\n', 2, 'continued on the next line'),
    # document markers
    ('a: 1\n...\n', 2, "'...'"),
    ('a: 1\n---\nb: 2\n', 2, 'second document'),
    ('---\n---\n', 2, 'second document'),
    ('--- a\n', 1, "text after '---' is not supported"),
    ('%YAML 1.2\n---\na: 1\n', 1, 'directives'),
    ('a: 1\n%b: c\n', 2, 'directives'),
    ('a: %s\n', 1, 'directives'),
    # block scalars, flow mappings, anchors, aliases, tags
    ('a: |\n  x\n', 1, 'block scalars'),
    ('a: >-\n  x\n', 1, 'block scalars'),
    ('a: {}\n', 1, 'flow mappings'),
    ('a:\n  b: {c: d}\n', 2, 'flow mappings'),
    ('{a: b}\n', 1, 'flow mappings'),
    ('a: [{b: c}]\n', 1, 'flow mappings'),
    ('a: &x 1\n', 1, 'anchors and aliases are not supported here'),
    ('a: 1\nb: *x\n', 2, 'anchors and aliases are not supported here'),
    ('&a b: c\n', 1, 'anchors and aliases'),
    ('a: [*x]\n', 1, 'anchors and aliases'),
    ('a: !!str 1\n', 1, 'tags'),
    ('- !foo x\n', 1, 'tags'),
    ('a: @x\n', 1, 'reserved'),
    ('a: `x`\n', 1, 'reserved'),
    # merge keys and complex keys
    ('a: 1\n<<: b\n', 2, 'merge keys'),
    ('- <<: x\n', 1, 'merge keys'),
    ('? a\n: b\n', 1, 'complex keys'),
    # a line that is no 'key: value' where a mapping is expected
    ('a: 1\nfoo\n', 2, "expected 'key: value'"),
    ('a:\n  b: 1\n  c\n', 3, "expected 'key: value'"),
    ('a: 1\nb:c\n', 2, "expected 'key: value'"),
    ('a: 1\n[x]\n', 2, "expected 'key: value'"),
    ('a: b: c\n', 1, "cannot contain ': '"),
    ('- a: b: c\n', 1, "cannot contain ': '"),
    ('a: b:\n', 1, "cannot contain ': '"),
    ('a: - b\n', 1, "values starting with '- ' are not supported here"),
    (': a\n', 1, "values starting with ': '"),
    ('a: , b\n', 1, "values starting with ', '"),
    ('a: ]\n', 1, "values starting with ']'"),
    ('a: }\n', 1, "values starting with '}'"),
    # control characters (tab is fine), a byte-order mark that is not at the start
    ('a: b\x07\n', 1, 'U+0007'),
    ('a: 1\nb: "\x00"\n', 2, 'U+0000'),
    ('# \x1b[31m\n', 1, 'U+001B'),
    ('a: \x85\n', 1, 'U+0085'),
    ('a: 1\n\ufeffb: 2\n', 2, 'U+FEFF'),
    ('a: 1\nb: 2\x0bc\n', 2, 'U+000B'),
    # escapes outside the supported set
    ('a: "\\a"\n', 1, 'unsupported escape \\a'),
    ('a: "\\ "\n', 1, 'escape'),
    ('a: "\\x4"\n', 1, 'escape'),
    ('a: "\\U00110000"\n', 1, 'escape'),
    ('a: "\\N"\n', 1, 'escape'),
    # flow sequence contents
    ('a: [b, [c]]\n', 1, 'nested flow sequences'),
    ('a: [b,, c]\n', 1, "values starting with ', '"),
    ('a: [,]\n', 1, "values starting with ',]'"),
    ('a: [, b]\n', 1, "values starting with ', '"),
    ('a: [?x]\n', 1, 'complex keys'),  # PyYAML reads a mapping here, YAML 1.2 a string
    ('a: [:x]\n', 1, "values starting with ':x'"),
    # nesting deeper than Python's recursion limit
    ('a: 1\nb:\n' + '- ' * 3000 + 'c\n', 3, 'nested too deeply'),
]


def pyyaml_as_written(value):
    """Turn PyYAML's booleans and integers back into the words the fixtures use."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return {k: pyyaml_as_written(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pyyaml_as_written(v) for v in value]
    return value

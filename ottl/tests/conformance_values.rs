//! The conformance table, expression by expression: each row sets one attribute of the first
//! log record (`set(attributes["out"], EXPR)`) and compares the value it got, or the
//! run-time error, with what Go's function docs and tests describe; each condition row
//! evaluates one `where` clause against that record.

mod common;

use common::*;
use ottl::{exec, ContextKind, ErrorMode, PathStyle, Statement, StatementSeq};
use serde_json::Value as J;

/// Set `attributes["out"]` of the first log to `expr`: the value it got, or the error.
fn eval(expr: &str, mode: ErrorMode) -> Result<J, String> {
    let text = format!(r#"set(attributes["out"], {expr}) where severity_number == 9"#);
    let st = Statement::compile(&text, ContextKind::Log, PathStyle::Contextual)
        .map_err(|e| format!("load: {e}"))?;
    let seq = StatementSeq {
        statements: vec![st],
        error_mode: mode,
    };
    let mut r = logs();
    exec::visit_logs(&mut r, ContextKind::Log, &mut |c| seq.execute(c))?;
    Ok(dump_logs(&r)[0]["attributes"]["out"].clone())
}

/// (expression, expected JSON value of `attributes["out"]`; `null`: not set; `!text`: the
/// statement fails with an error containing `text`)
const VALUES: &[(&str, &str)] = &[
    // Concat: string-like values, nil as <nil>
    (r#"Concat(["a", "b"], "-")"#, r#""a-b""#),
    (
        r#"Concat([body, attributes["n"]], ":")"#,
        r#""operationA:3""#,
    ),
    (r#"Concat([], "-")"#, r#""""#),
    (r#"Concat(["x"], "")"#, r#""x""#),
    (r#"Concat([1.5, true], ",")"#, r#""1.5,true""#),
    (
        r#"Concat([attributes["missing"], "a"], "-")"#,
        r#""<nil>-a""#,
    ),
    (
        r#"Concat([severity_text, severity_number], " ")"#,
        r#""INFO 9""#,
    ),
    // ConvertCase
    (r#"ConvertCase("Hello World", "lower")"#, r#""hello world""#),
    (r#"ConvertCase("Hello World", "upper")"#, r#""HELLO WORLD""#),
    (r#"ConvertCase("hello world", "snake")"#, r#""hello_world""#),
    (r#"ConvertCase("hello_world", "camel")"#, r#""HelloWorld""#),
    (
        r#"ConvertCase(attributes["missing"], "lower")"#,
        "!expected string but got nil",
    ),
    (
        r#"ConvertCase(attributes["n"], "lower")"#,
        "!expected string",
    ),
    // Double
    (r#"Double(1)"#, "1.0"),
    (r#"Double("1.5")"#, "1.5"),
    (r#"Double(true)"#, "1.0"),
    (r#"Double(false)"#, "0.0"),
    (r#"Double("abc")"#, "null"),
    (r#"Double(attributes["n"])"#, "3.0"),
    (r#"Double(attributes["missing"])"#, "null"),
    (r#"Double({"a": 1})"#, "null"),
    // Int
    (r#"Int(1.9)"#, "1"),
    (r#"Int(-1.9)"#, "-1"),
    (r#"Int("42")"#, "42"),
    (r#"Int("4.2")"#, "null"),
    (r#"Int(true)"#, "1"),
    (r#"Int(false)"#, "0"),
    (r#"Int(attributes["missing"])"#, "null"),
    (r#"Int(attributes["n"])"#, "3"),
    // String
    (r#"String(1)"#, r#""1""#),
    (r#"String(1.5)"#, r#""1.5""#),
    (r#"String(true)"#, r#""true""#),
    (r#"String(0x0a0b)"#, r#""0a0b""#),
    (r#"String(attributes["missing"])"#, "null"),
    (r#"String(["a", 1])"#, r#""[\"a\",1]""#),
    (r#"String({"k": "v"})"#, r#""{\"k\":\"v\"}""#),
    // Bool
    (r#"Bool("true")"#, "true"),
    (r#"Bool("FALSE")"#, "false"),
    (r#"Bool("1")"#, "true"),
    (r#"Bool("yes")"#, "null"),
    (r#"Bool(1)"#, "true"),
    (r#"Bool(0)"#, "false"),
    (r#"Bool(0.0)"#, "false"),
    (r#"Bool(2.5)"#, "true"),
    (r#"Bool(attributes["missing"])"#, "null"),
    // Is* type checks
    (r#"IsString(body)"#, "true"),
    (r#"IsString(attributes["n"])"#, "false"),
    (r#"IsString(attributes["missing"])"#, "false"),
    (r#"IsInt(attributes["n"])"#, "true"),
    (r#"IsInt(1.0)"#, "false"),
    (r#"IsDouble(1.0)"#, "true"),
    (r#"IsDouble(1)"#, "false"),
    (r#"IsBool(false)"#, "true"),
    (r#"IsBool("true")"#, "false"),
    (r#"IsMap(attributes)"#, "true"),
    (r#"IsMap(body)"#, "false"),
    (r#"IsMap(ParseJSON(attributes["json"]))"#, "true"),
    (r#"IsList(["a"])"#, "true"),
    (r#"IsList(Split("a,b", ","))"#, "true"),
    (r#"IsList(attributes)"#, "false"),
    (r#"IsMatch(body, "^op")"#, "true"),
    (r#"IsMatch(body, "^OP")"#, "false"),
    (r#"IsMatch(attributes["missing"], ".*")"#, "false"),
    (r#"IsMatch(attributes["n"], "^3$")"#, "true"),
    // Len
    (r#"Len(body)"#, "10"),
    (r#"Len("")"#, "0"),
    (r#"Len("héllo")"#, "6"),
    (r#"Len(attributes)"#, "6"),
    (r#"Len(["a", "b", "c"])"#, "3"),
    (r#"Len(Split(attributes["flags"], "|"))"#, "3"),
    (r#"Len(attributes["n"])"#, "!unsupported"),
    // ParseJSON
    (
        r#"ParseJSON(attributes["json"])"#,
        r#"{"a":1.0,"b":"x","c":{"d":true}}"#,
    ),
    (r#"ParseJSON("[1, \"a\"]")"#, r#"[1.0,"a"]"#),
    (r#"ParseJSON("1.5e3")"#, "!"),
    (r#"ParseJSON("{bad")"#, "!"),
    (r#"ParseJSON(attributes["json"])["c"]["d"]"#, "true"),
    (r#"ParseJSON(attributes["json"])["a"]"#, "1.0"),
    (r#"ParseJSON("{\"f\": 1.5}")["f"]"#, "1.5"),
    // ParseKeyValue
    (
        r#"ParseKeyValue(attributes["kv"])"#,
        r#"{"k1":"v1","k2":"v 2"}"#,
    ),
    (
        r#"ParseKeyValue("a:1;b:2", ":", ";")"#,
        r#"{"a":"1","b":"2"}"#,
    ),
    (r#"ParseKeyValue("a=1 b", "=", " ")"#, "!"),
    (r#"ParseKeyValue("", "=", " ")"#, "!"),
    // ExtractPatterns
    (
        r#"ExtractPatterns(attributes["http.path"], "^/(?P<first>[a-z]+)")"#,
        r#"{"first":"health"}"#,
    ),
    (
        r#"ExtractPatterns(body, "(?P<op>op)(?P<rest>.*)")"#,
        r#"{"op":"op","rest":"erationA"}"#,
    ),
    (r#"ExtractPatterns(body, "^(?P<x>zzz)")"#, "{}"),
    // Split
    (r#"Split(attributes["flags"], "|")"#, r#"["A","B","C"]"#),
    (r#"Split("abc", "")"#, r#"["a","b","c"]"#),
    (r#"Split("a,,b", ",")"#, r#"["a","","b"]"#),
    (r#"Split("abc", ",")"#, r#"["abc"]"#),
    (r#"Split(attributes["missing"], ",")"#, "!expected string"),
    // Substring
    (r#"Substring(body, 0, 2)"#, r#""op""#),
    (r#"Substring(body, 2, 8)"#, r#""erationA""#),
    (r#"Substring(body, 9, 1)"#, r#""A""#),
    (r#"Substring(body, 5, 10)"#, "!invalid range"),
    (r#"Substring(body, -1, 2)"#, "!cannot be negative"),
    (r#"Substring(body, 0, 0)"#, "!cannot be negative or zero"),
    // hashes
    (
        r#"SHA256("")"#,
        r#""e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855""#,
    ),
    (
        r#"SHA1("abc")"#,
        r#""a9993e364706816aba3e25717850c26c9cd0d89d""#,
    ),
    (r#"MD5("abc")"#, r#""900150983cd24fb0d6963f7d28e17f72""#),
    (r#"FNV("hello world")"#, "8618312879776256743"),
    (r#"SHA256(attributes["missing"])"#, "null"),
    (
        r#"MD5(attributes["n"])"#,
        r#""eccbc87e4b5ce2fe28308fd9f2a7baf3""#,
    ),
    // Hex
    (r#"Hex("a")"#, r#""61""#),
    (r#"Hex(1)"#, r#""0000000000000001""#),
    (r#"Hex(true)"#, r#""01""#),
    (r#"Hex(0x0aff)"#, r#""0aff""#),
    // TraceID, SpanID
    (
        r#"TraceID(0x0102030405060708090a0b0c0d0e0f10)"#,
        r#""AQIDBAUGBwgJCgsMDQ4PEA==""#,
    ),
    (r#"SpanID(0x0102030405060708)"#, r#""AQIDBAUGBwg=""#),
    // Time, Unix*
    (
        r#"UnixNano(Time("2023-05-26 12:34:56", "%Y-%m-%d %H:%M:%S"))"#,
        "1685104496000000000",
    ),
    (
        r#"UnixSeconds(Time("2023-05-26", "%Y-%m-%d"))"#,
        "1685059200",
    ),
    (
        r#"UnixMilli(Time("2023-05-26 12:34:56.789", "%Y-%m-%d %H:%M:%S.%L"))"#,
        "1685104496789",
    ),
    (
        r#"UnixSeconds(Time("02/04/2023", "%m/%d/%Y"))"#,
        "1675468800",
    ),
    (
        r#"UnixSeconds(Time("2023-05-26 12:00:00 +0200", "%Y-%m-%d %H:%M:%S %z"))"#,
        "1685095200",
    ),
    (
        r#"UnixSeconds(Time("Feb 15 2023", "%b %d %Y"))"#,
        "1676419200",
    ),
    (r#"Time("nope", "%Y")"#, "!"),
    (r#"Time("", "%Y")"#, "!"),
    (r#"UnixNano(time)"#, "1581452773000000789"),
    (r#"UnixMicro(time)"#, "1581452773000000"),
    (r#"UnixMilli(time)"#, "1581452773000"),
    (r#"UnixSeconds(time)"#, "1581452773"),
    (r#"UnixNano(Unix(1, 5))"#, "1000000005"),
    (r#"UnixSeconds(Unix(1700000000))"#, "1700000000"),
    // time parts (UTC)
    (r#"Year(time)"#, "2020"),
    (r#"Month(time)"#, "2"),
    (r#"Day(time)"#, "11"),
    (r#"Hour(time)"#, "20"),
    (r#"Minute(time)"#, "26"),
    (r#"Second(time)"#, "13"),
    (r#"Year(Time("1999-12-31", "%Y-%m-%d"))"#, "1999"),
    // Duration and its parts
    (r#"Nanoseconds(Duration("1ms"))"#, "1000000"),
    (r#"Microseconds(Duration("1.5ms"))"#, "1500"),
    (r#"Milliseconds(Duration("2s"))"#, "2000"),
    (r#"Seconds(Duration("1m30s"))"#, "90.0"),
    (r#"Minutes(Duration("90s"))"#, "1.5"),
    (r#"Hours(Duration("90m"))"#, "1.5"),
    (r#"Nanoseconds(Duration("1h2m3.5s"))"#, "3723500000000"),
    (r#"Duration("abc")"#, "!"),
    (r#"Seconds(Duration("-1.5s"))"#, "-1.5"),
    // Format
    (r#"Format("%s-%d", [body, 5])"#, r#""operationA-5""#),
    (r#"Format("%05d", [42])"#, r#""00042""#),
    (r#"Format("%.2f", [3.14159])"#, r#""3.14""#),
    (r#"Format("%v and %v", ["a", true])"#, r#""a and true""#),
    (r#"Format("no verbs", [])"#, r#""no verbs""#),
    // case, trim, prefix, suffix
    (r#"ToLowerCase("ÀBC")"#, r#""àbc""#),
    (r#"ToUpperCase(body)"#, r#""OPERATIONA""#),
    (r#"ToUpperCase(attributes["missing"])"#, "!"),
    (r#"Trim("  a b  ")"#, r#""a b""#),
    (r#"Trim("xxaxx", "x")"#, r#""a""#),
    (r#"Trim("", "x")"#, r#""""#),
    (r#"TrimPrefix(attributes["http.path"], "/")"#, r#""health""#),
    (r#"TrimPrefix("abc", "x")"#, r#""abc""#),
    (r#"TrimSuffix("file.log", ".log")"#, r#""file""#),
    (r#"HasPrefix(body, "op")"#, "true"),
    (r#"HasPrefix(body, "x")"#, "false"),
    (r#"HasSuffix(body, "A")"#, "true"),
    (r#"HasSuffix(body, "a")"#, "false"),
    // Keys, Values, ContainsValue, Index
    (r#"Keys({"a": 1, "b": 2})"#, r#"["a","b"]"#),
    (r#"Keys({})"#, "[]"),
    (r#"Values({"a": 1, "b": "x"})"#, r#"[1,"x"]"#),
    (r#"ContainsValue(["a", "b"], "b")"#, "true"),
    (r#"ContainsValue(["a", "b"], "c")"#, "false"),
    (r#"ContainsValue([1, 2], 2)"#, "true"),
    (
        r#"ContainsValue(Split(attributes["flags"], "|"), "C")"#,
        "true",
    ),
    (r#"Index(body, "era")"#, "2"),
    (r#"Index(body, "zzz")"#, "-1"),
    (r#"Index(["a", "b"], "b")"#, "1"),
    (r#"Index(["a", "b"], "c")"#, "-1"),
    // Log
    (r#"Log(1.0)"#, "0.0"),
    (r#"Log(1)"#, "0.0"),
    (r#"Log(0)"#, "!"),
    (r#"Log(-1.0)"#, "!"),
    (r#"Log("x")"#, "!"),
    // URL
    (
        r#"URL("http://myusername:mypassword@www.example.com:80/foo.gif?key1=val1&key2=val2#fragment")"#,
        r#"{"url.original":"http://myusername:mypassword@www.example.com:80/foo.gif?key1=val1&key2=val2#fragment","url.domain":"www.example.com","url.scheme":"http","url.path":"/foo.gif","url.port":80,"url.fragment":"fragment","url.user_info":"myusername:mypassword","url.username":"myusername","url.password":"mypassword","url.query":"key1=val1&key2=val2","url.extension":"gif"}"#,
    ),
    (
        r#"URL("http://www.example.com")"#,
        r#"{"url.original":"http://www.example.com","url.domain":"www.example.com","url.scheme":"http","url.path":""}"#,
    ),
    (
        r#"URL("http://www.example.com:77/file.png")"#,
        r#"{"url.original":"http://www.example.com:77/file.png","url.domain":"www.example.com","url.scheme":"http","url.path":"/file.png","url.port":77,"url.extension":"png"}"#,
    ),
    (
        r#"URL("HTTPS://[::1]:8443/a%20b.")"#,
        r#"{"url.original":"https://[::1]:8443/a%20b.","url.domain":"::1","url.scheme":"https","url.path":"/a b.","url.port":8443}"#,
    ),
    (
        r#"URL("mailto:user@example.com")"#,
        r#"{"url.original":"mailto:user@example.com","url.domain":"","url.scheme":"mailto","url.path":""}"#,
    ),
    (
        r#"URL("?a=1&a=2&b=x+y")"#,
        r#"{"query":{"a":["1","2"],"b":["x y"]}}"#,
    ),
    (r#"URL("?")"#, "{}"),
    (r#"URL("")"#, "!url cannot be empty"),
    (r#"URL("http://h:port/")"#, "!invalid port"),
    (r#"URL(":nothing")"#, "!missing protocol scheme"),
    (
        r#"URL("a:b/c%zz")"#,
        r#"{"url.original":"a:b/c%zz","url.domain":"","url.scheme":"a","url.path":""}"#,
    ),
    (r#"URL("/p%zz")"#, "!invalid URL escape"),
    (r#"URL(attributes["n"])"#, "!expected string"),
    // math
    (r#"1 + 2 * 3"#, "7"),
    (r#"(1 + 2) * 3"#, "9"),
    (r#"10 / 4"#, "2"),
    (r#"10.0 / 4"#, "2.5"),
    (r#"10.0 / 4.0"#, "2.5"),
    (r#"attributes["n"] * 2"#, "6"),
    (r#"attributes["n"] - 5"#, "-2"),
    (r#"attributes["n"] / 0"#, "!divide by 0"),
    (r#"severity_number + 1"#, "10"),
    (r#"Len(body) + attributes["n"]"#, "13"),
    (r#"attributes["missing"] + 1"#, "!"),
    (r#"UnixSeconds(time + Duration("1h"))"#, "1581456373"),
    (
        r#"Hours(time - Time("2020-02-11", "%Y-%m-%d"))"#,
        "20.43694444466361",
    ),
    // paths and indexes
    (r#"resource.attributes["service.name"]"#, r#""svc""#),
    (r#"instrumentation_scope.name"#, r#""lib""#),
    (r#"instrumentation_scope.version"#, r#""1.0""#),
    (r#"severity_text"#, r#""INFO""#),
    (
        r#"trace_id.string"#,
        r#""0102030405060708090a0b0c0d0e0f10""#,
    ),
    (r#"span_id.string"#, r#""0102030405060708""#),
    (r#"Split(attributes["flags"], "|")[1]"#, r#""B""#),
    (r#"Split(attributes["flags"], "|")[3]"#, "!out of bounds"),
    (r#"ParseJSON(attributes["json"])["c"]"#, r#"{"d":true}"#),
    (r#"ParseJSON(attributes["json"])["nope"]"#, "null"),
    (r#"attributes["missing"]"#, "null"),
    (r#"attributes["http.method"]"#, r#""get""#),
    (r#"attributes[attributes["http.method"]]"#, "null"),
    (r#"body"#, r#""operationA""#),
    (r#"nil"#, "null"),
    (r#"["a", 1, true, nil]"#, r#"["a",1,true,null]"#),
    (r#"{"x": {"y": [1]}}"#, r#"{"x":{"y":[1]}}"#),
    (r#"0x00ff"#, r#""AP8=""#),
    (r#"-1.5"#, "-1.5"),
    (r#"SEVERITY_NUMBER_WARN"#, "13"),
    (r#"SEVERITY_NUMBER_UNSPECIFIED"#, "0"),
    (r#"SEVERITY_NUMBER_FATAL4"#, "24"),
];

#[test]
fn values_table() {
    let mut failures = Vec::new();
    for (i, (expr, want)) in VALUES.iter().enumerate() {
        let got = eval(expr, ErrorMode::Propagate);
        let ok = match (want.strip_prefix('!'), &got) {
            (Some(frag), Err(e)) => e.contains(frag) && !e.starts_with("load:"),
            (Some(_), Ok(_)) => false,
            (None, Ok(v)) => serde_json::from_str::<J>(want).is_ok_and(|w| *v == w),
            (None, Err(_)) => false,
        };
        if !ok {
            failures.push(format!("row {i} {expr}: want {want}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(VALUES.len() >= 200, "{} rows", VALUES.len());
}

/// Under `ignore` and `silent` a failing statement leaves the record as it was.
#[test]
fn failing_rows_change_nothing_under_ignore_and_silent() {
    for (expr, _) in VALUES.iter().filter(|(_, w)| w.starts_with('!')) {
        for mode in [ErrorMode::Ignore, ErrorMode::Silent] {
            assert_eq!(eval(expr, mode), Ok(J::Null), "{expr} under {mode:?}");
        }
    }
}

/// (condition on the first log record, expected)
const CONDITIONS: &[(&str, bool)] = &[
    (r#"body == "operationA""#, true),
    (r#"body != "operationA""#, false),
    (r#"body == "operationa""#, false),
    (r#"severity_number == 9"#, true),
    (r#"severity_number == 9.0"#, true),
    (r#"severity_number > 5"#, true),
    (r#"severity_number >= 9"#, true),
    (r#"severity_number < 9"#, false),
    (r#"severity_number <= 8"#, false),
    (r#"severity_number == SEVERITY_NUMBER_INFO"#, true),
    (r#"severity_number >= SEVERITY_NUMBER_WARN"#, false),
    (r#"severity_number != SEVERITY_NUMBER_DEBUG"#, true),
    (r#"attributes["n"] == 3"#, true),
    (r#"attributes["n"] == 3.0"#, true),
    (r#"attributes["n"] > 2.5"#, true),
    (r#"attributes["n"] == "3""#, false),
    (r#"attributes["missing"] == nil"#, true),
    (r#"attributes["missing"] != nil"#, false),
    (r#"nil == nil"#, true),
    (r#"attributes["n"] == nil"#, false),
    (r#"attributes["missing"] > 1"#, false),
    (r#"attributes["missing"] < 1"#, false),
    (r#"attributes["missing"] == 0"#, false),
    (r#"body > "a""#, true),
    (r#"body < "a""#, false),
    (r#""b" > "a""#, true),
    (r#""a" < "ab""#, true),
    (r#"true == true"#, true),
    (r#"true != false"#, true),
    (r#"true > false"#, true),
    (r#"false >= true"#, false),
    (r#"1 == 1.0"#, true),
    (r#"1 < 1.5"#, true),
    (r#"0x01 == 0x01"#, true),
    (r#"0x01 != 0x02"#, true),
    (r#"true"#, true),
    (r#"false"#, false),
    (r#"not false"#, true),
    (r#"not (body == "operationA")"#, false),
    (r#"true and false"#, false),
    (r#"true or false"#, true),
    (r#"false or false or true"#, true),
    (r#"true and true and false"#, false),
    (r#"false and true or true"#, true),
    (r#"false and (true or true)"#, false),
    (r#"not true or true"#, true),
    (r#"IsMatch(body, "A$")"#, true),
    (r#"not IsMatch(body, "A$")"#, false),
    (r#"IsString(body) and Len(body) == 10"#, true),
    (r#"Len(attributes) > 5"#, true),
    (
        r#"attributes["http.method"] == "get" and attributes["http.path"] == "/health""#,
        true,
    ),
    (r#"resource.attributes["service.name"] == "svc""#, true),
    (r#"instrumentation_scope.name == "lib""#, true),
    (r#"severity_text == "INFO""#, true),
    (r#"Split(attributes["flags"], "|")[0] == "A""#, true),
    (r#"ParseJSON(attributes["json"])["a"] == 1"#, true),
    (r#"ParseJSON(attributes["json"])["c"]["d"] == true"#, true),
    (r#"time > Time("2020-01-01", "%Y-%m-%d")"#, true),
    (r#"time < Time("2020-01-01", "%Y-%m-%d")"#, false),
    (r#"Duration("1s") < Duration("2s")"#, true),
    (r#"Duration("1m") == Duration("60s")"#, true),
    (r#"span_id.string == "0102030405060708""#, true),
    (
        r#"trace_id == TraceID(0x0102030405060708090a0b0c0d0e0f10)"#,
        true,
    ),
    (r#"span_id == SpanID(0x0102030405060708)"#, true),
    (r#"span_id == SpanID(0x0807060504030201)"#, false),
    (r#"attributes == attributes"#, true),
    (r#"["a"] == ["a"]"#, true),
    (r#"{"a": 1} == {"a": 1}"#, true),
];

#[test]
fn conditions_table() {
    let mut failures = Vec::new();
    for (i, (cond, want)) in CONDITIONS.iter().enumerate() {
        let c = ottl::Condition::compile(cond, ContextKind::Log, PathStyle::Contextual);
        let got = c.map_err(|e| e.to_string()).and_then(|c| {
            let mut r = logs();
            let mut out = None;
            exec::visit_logs(&mut r, ContextKind::Log, &mut |ctx| {
                if out.is_none() {
                    out = Some(c.eval(ctx)?);
                }
                Ok(())
            })?;
            out.ok_or_else(|| "no record".to_string())
        });
        if got != Ok(*want) {
            failures.push(format!("row {i} {cond}: want {want}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

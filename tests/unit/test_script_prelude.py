"""Each script carries only the prelude definitions it uses (app/store/lua.py's prelude_for)."""

from __future__ import annotations

from app.store.lua import NAMES, prelude_for, source

LIB = """-- the header
local TAG = ARGV[1]
local function k_a(x) return 'a:' .. TAG .. x end
-- unused, and what only it uses
local function k_b(x) return 'b:' .. x end
local function helper(x)
  return k_b(x)  -- k_a(x) in a comment is no use
end
local function uses_a(x)
  local y = k_a(x)
  return y
end
local LIMITS = {
  n = 3,
}
"""


def test_only_what_a_body_uses_directly_or_through_others_in_file_order() -> None:
    prelude = prelude_for("return uses_a(LIMITS.n)", LIB)
    assert prelude.splitlines() == [
        "local TAG = ARGV[1]",
        "local function k_a(x) return 'a:' .. TAG .. x end",
        "local function uses_a(x)",
        "  local y = k_a(x)",
        "  return y",
        "end",
        "local LIMITS = {",
        "  n = 3,",
        "}",
    ]
    assert "k_b" in prelude_for("return helper(1)", LIB)
    assert prelude_for("return 1 -- helper", LIB) == ""


def test_every_script_keeps_what_it_calls() -> None:
    for name in NAMES:
        text = source(name)
        assert "local function now_ms()" in text or "now_ms" not in text, name
        assert text.count("local TAG = ARGV[1]") == 1, name

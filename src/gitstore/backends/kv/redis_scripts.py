"""Lua scripts of the Redis/Valkey KV store (see ``redis.py`` for the key layout).

A script runs atomically on the server, but Redis does not roll back the writes a script made
before it failed. ``APPLY`` therefore checks everything that could fail (the head
precondition, the types of every key it will write) before its first write; after that it
only issues commands that cannot fail on keys of the right type. Keys are derived from
``KEYS[1]`` plus the scope's hash-tagged base, so every key a batch touches lives in the slot
of ``{<namespace>/<repo>:<channel>}`` (one cluster slot per scope) — except the two
preconditions of publishing: a fenced batch also reads the alias key (slot of
``{<namespace>/<repo>}``) and a guarded switch reads the target's head key. On one node (or
a primary with replicas) that is atomic like the rest; a Redis *Cluster* refuses a script
whose keys span slots (``CROSSSLOT``), so publishing on a cluster would need the alias and the
buffers under one hash tag — not supported here. Sequences travel as the
decimal strings Python sent and are written back verbatim; Lua compares them as doubles,
exact below 2**53, which ``validate_sequence`` guarantees.
"""

from __future__ import annotations

# KEYS[1] = head key (<base>#h); KEYS[2] (only with a fence) = the fencing alias key
# ARGV: base, sequence, version, advance(0/1), expected head (-1 = none), now, n_upserts,
#       n_deletes, the scope's channel when fenced ('' = no fence), then 4 per upsert (kind,
#       name, body, indexes JSON), 2 per delete (kind, name)
# Returns {applied, skipped, head_advanced} or an error "GITSTORE_HEAD <current>" /
# "GITSTORE_ALIAS".
APPLY = """
local base, seq_s, version = ARGV[1], ARGV[2], ARGV[3]
local seq, expected = tonumber(seq_s), tonumber(ARGV[5])
local nup, ndel = tonumber(ARGV[7]), tonumber(ARGV[8])
local head, tombs = KEYS[1], base .. '#t'
local first_del = 10 + nup * 4

if ARGV[9] ~= '' and redis.call('HGET', KEYS[2], 't') == ARGV[9] then
  return redis.error_reply('GITSTORE_ALIAS')
end

local cur = tonumber(redis.call('HGET', head, 's') or '0')
if expected >= 0 and cur ~= expected then
  return redis.error_reply('GITSTORE_HEAD ' .. cur)
end

local function entries(idx)
  local out = {}
  if idx == false or idx == '' then return out end
  for index, values in pairs(cjson.decode(idx)) do
    for _, v in ipairs(values) do out[index .. ':' .. v] = true end
  end
  return out
end

local checked = {}
local function bad(key, want)
  if checked[key] then return nil end
  checked[key] = true
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then
    return 'WRONGTYPE kv key ' .. key .. ' holds a ' .. t .. ', expected a ' .. want
  end
  return nil
end

-- Each upsert's index entries, decoded once (checked here, written below).
local new_entries = {}
local err = bad(head, 'hash') or bad(tombs, 'zset')
for i = 0, nup - 1 do
  if err then break end
  local j = 10 + i * 4
  local kind = ARGV[j]
  err = bad(base .. ':' .. kind .. ':' .. ARGV[j + 1], 'hash') or bad(base .. '#l:' .. kind, 'zset')
  local es = entries(ARGV[j + 3])
  new_entries[i] = es
  for e in pairs(es) do
    err = err or bad(base .. '#i:' .. kind .. ':' .. e, 'zset')
  end
end
for i = 0, ndel - 1 do
  if err then break end
  local j = first_del + i * 2
  local kind = ARGV[j]
  err = bad(base .. ':' .. kind .. ':' .. ARGV[j + 1], 'hash') or bad(base .. '#l:' .. kind, 'zset')
end
if err then return redis.error_reply(err) end

local function reindex(kind, name, old, after)
  local before = entries(old)
  local p = base .. '#i:' .. kind .. ':'
  for e in pairs(before) do
    if not after[e] then redis.call('ZREM', p .. e, name) end
  end
  for e in pairs(after) do
    if not before[e] then redis.call('ZADD', p .. e, 0, name) end
  end
end

local applied, skipped = 0, 0
for i = 0, nup - 1 do
  local j = 10 + i * 4
  local kind, name, body, idx = ARGV[j], ARGV[j + 1], ARGV[j + 2], ARGV[j + 3]
  local key = base .. ':' .. kind .. ':' .. name
  local old = redis.call('HMGET', key, 's', 'x', 't')
  if old[1] and tonumber(old[1]) > seq then
    skipped = skipped + 1
  else
    if (old[2] or '') ~= idx then reindex(kind, name, old[2], new_entries[i]) end
    redis.call('HSET', key, 's', seq_s, 'v', version, 'd', body, 'x', idx)
    if old[3] then
      redis.call('HDEL', key, 't')
      redis.call('ZREM', tombs, kind .. ':' .. name)
    end
    redis.call('ZADD', base .. '#l:' .. kind, 0, name)
    applied = applied + 1
  end
end
for i = 0, ndel - 1 do
  local j = first_del + i * 2
  local kind, name = ARGV[j], ARGV[j + 1]
  local key = base .. ':' .. kind .. ':' .. name
  local old = redis.call('HMGET', key, 's', 'x')
  if old[1] and tonumber(old[1]) > seq then
    skipped = skipped + 1
  else
    if old[2] then reindex(kind, name, old[2], {}) end
    redis.call('DEL', key)
    redis.call('HSET', key, 's', seq_s, 'v', version, 't', '1')
    redis.call('ZREM', base .. '#l:' .. kind, name)
    redis.call('ZADD', tombs, seq_s, kind .. ':' .. name)
    applied = applied + 1
  end
end

local advanced = 0
if ARGV[4] == '1' and seq >= cur then
  redis.call('HSET', head, 's', seq_s, 'v', version, 'u', ARGV[6])
  advanced = 1
end
return {applied, skipped, advanced}
"""

# KEYS[1] = sorted set of names (a kind's list or one index value)
# ARGV: document key prefix (<base>:<kind>:), lex min ('-' or '(<after>'), limit
# Returns {total, name, body, version, sequence, name, ...}
PAGE = """
local out = {redis.call('ZCARD', KEYS[1])}
local names = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], '+', 'LIMIT', 0, tonumber(ARGV[3]))
for _, name in ipairs(names) do
  local d = redis.call('HMGET', ARGV[1] .. name, 'd', 'v', 's')
  if d[1] then
    out[#out + 1] = name
    out[#out + 1] = d[1]
    out[#out + 1] = d[2]
    out[#out + 1] = d[3]
  end
end
return out
"""

# KEYS[1] = alias key, KEYS[2] (only with ARGV[3]) = the target's head key;
# ARGV: sequence, target ('' = removed), expected target head version ('' = any).
# Returns 1 if applied, 0 if older, or an error "GITSTORE_VERSION <found>".
SET_ALIAS = """
local s = redis.call('HGET', KEYS[1], 's')
if s and tonumber(s) > tonumber(ARGV[1]) then return 0 end
if ARGV[3] and ARGV[3] ~= '' then
  local found = redis.call('HGET', KEYS[2], 'v')
  if found ~= ARGV[3] then
    return redis.error_reply('GITSTORE_VERSION ' .. (found or '-'))
  end
end
redis.call('HSET', KEYS[1], 's', ARGV[1], 't', ARGV[2])
return 1
"""

# KEYS[1] = tombstone set (<base>#t); ARGV: base, below. Returns how many were pruned.
PRUNE = """
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
for _, member in ipairs(members) do
  local key = ARGV[1] .. ':' .. member
  if redis.call('HGET', key, 't') then redis.call('DEL', key) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
return #members
"""

# ``copy_step`` (see ``redis.py``). Both scripts check the guards of a batch first (KEYS[1] =
# the target's head key, KEYS[2] with a fence = the fencing alias key), write nothing on a
# failed check, and return the source head (version, sequence, updated-at; '' = none) read in
# the same script. The source's keys are another slot's, like a fence's alias key.
_COPY_GUARDS = """
if ARGV[3] ~= '' and redis.call('HGET', KEYS[2], 't') == ARGV[3] then
  return redis.error_reply('GITSTORE_ALIAS')
end
local cur = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
if cur ~= tonumber(ARGV[2]) then
  return redis.error_reply('GITSTORE_HEAD ' .. cur)
end
local function each_entry(x, fn)
  if x == false or x == nil or x == '' then return end
  for index, values in pairs(cjson.decode(x)) do
    for _, v in ipairs(values) do fn(index .. ':' .. v) end
  end
end
"""

# ARGV: target base, expected head, fenced channel ('' = none), limit, source head key, then
# the target's kinds to clear (without the kept kind). Removes up to limit tombstones and
# documents (with their index entries). Returns {removed, source head v, s, u}.
COPY_CLEAR = (
    _COPY_GUARDS
    + """
local base, budget = ARGV[1], tonumber(ARGV[4])
local tombs = base .. '#t'
local members = redis.call('ZRANGE', tombs, 0, budget - 1)
for _, m in ipairs(members) do redis.call('DEL', base .. ':' .. m) end
if #members > 0 then redis.call('ZREM', tombs, unpack(members)) end
local removed = #members
for i = 6, #ARGV do
  if removed >= budget then break end
  local kind = ARGV[i]
  local list = base .. '#l:' .. kind
  local names = redis.call('ZRANGE', list, 0, budget - removed - 1)
  for _, name in ipairs(names) do
    local key = base .. ':' .. kind .. ':' .. name
    each_entry(redis.call('HGET', key, 'x'), function(e)
      redis.call('ZREM', base .. '#i:' .. kind .. ':' .. e, name)
    end)
    redis.call('DEL', key)
  end
  if #names > 0 then redis.call('ZREM', list, unpack(names)) end
  removed = removed + #names
end
local h = redis.call('HMGET', ARGV[5], 'v', 's', 'u')
return {removed, h[1] or '', h[2] or '', h[3] or ''}
"""
)

# ARGV: target base, expected head, fenced channel, limit, source base, sequence, kind number
# (0-based), the last name copied of that kind ('' = none yet), then the source's kinds.
# Copies up to limit live documents with their index entries. Returns {copied, kind number,
# last name, source head v, s, u}; a kind number past the last kind means done.
COPY_DOCS = (
    _COPY_GUARDS
    + """
local tgt, src, budget, seq = ARGV[1], ARGV[5], tonumber(ARGV[4]), ARGV[6]
local k, after = tonumber(ARGV[7]), ARGV[8]
local nkinds = #ARGV - 8
local used, copied = 0, 0
while k < nkinds and used < budget do
  local kind = ARGV[9 + k]
  local low = '-'
  if after ~= '' then low = '(' .. after end
  local want = budget - used
  local names = redis.call('ZRANGEBYLEX', src .. '#l:' .. kind, low, '+', 'LIMIT', 0, want)
  for _, name in ipairs(names) do
    used = used + 1
    after = name
    local d = redis.call('HMGET', src .. ':' .. kind .. ':' .. name, 'd', 'v', 'x')
    if d[1] then
      redis.call('HSET', tgt .. ':' .. kind .. ':' .. name, 's', seq, 'v', d[2], 'd', d[1],
        'x', d[3] or '')
      redis.call('ZADD', tgt .. '#l:' .. kind, 0, name)
      each_entry(d[3], function(e)
        redis.call('ZADD', tgt .. '#i:' .. kind .. ':' .. e, 0, name)
      end)
      copied = copied + 1
    end
  end
  if #names < want then
    k = k + 1
    after = ''
  end
end
local h = redis.call('HMGET', src .. '#h', 'v', 's', 'u')
return {copied, k, after, h[1] or '', h[2] or '', h[3] or ''}
"""
)

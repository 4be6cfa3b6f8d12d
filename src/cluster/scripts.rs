//! The cluster directory's Lua scripts: each one atomic inside Redis, so that a seat is never
//! given twice, a room never fills past its `max_players`, and every node reads one truth.
//! Time inside a script is Redis's own (`TIME`), one clock for every node.
//!
//! The keys, under the prefix `P` (ARGV[1]); a room is named `NODE:ID`:
//! - `P nodes`: sorted set of live node ids, scored by the end of their lease (ms).
//! - `P node:NODE`: hash of a node (url, region, modes, players, limits, next_room), expiring
//!   with its lease.
//! - `P nodeseats:NODE`: sorted set of the node's outstanding seat tickets, by expiry.
//! - `P room:NODE:ID`: hash of a room (node, id, mode, region, private, code, max, tick_hz,
//!   created, joins, leaves), refreshed by its owner with a TTL. `joins` and `leaves` are
//!   written only by the owner (a seat claimed on its node, a player gone for good), so the
//!   room's count `joins - leaves` cannot drift and never goes below zero.
//! - `P seats:NODE:ID`: sorted set of the room's reserved seats (tickets), by expiry.
//! - `P seat:TICKET`: the room a ticket's seat is in, expiring with the seat.
//! - `P listed`: sorted set of public rooms by the end of their TTL: the lobby's listing.
//! - `P quick:MODE` and `P quick:MODE@REGION`: sorted sets of public rooms with space, by seats
//!   taken: quick play's candidates (no scan of the directory).
//! - `P code:CODE`: the private room a code opens, expiring with the room.
//! - `P private:ADDRESS`: the private rooms an address opened.
//! - `P token:TOKEN`: the node holding a resume token's player.
//!
//! Must never: trust a member of an index without checking its room's hash and its node's
//! lease (an index entry outlives a killed node; the hash does not), or write a room's counts
//! from a node other than its owner.

/// Helpers every script starts with.
macro_rules! prelude {
    () => {
        r#"
local P = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function room_key(r) return P .. 'room:' .. r end
local function seats_key(r) return P .. 'seats:' .. r end
local function node_key(n) return P .. 'node:' .. n end
local function live_seats(r, now)
  redis.call('ZREMRANGEBYSCORE', seats_key(r), '-inf', now)
  return redis.call('ZCARD', seats_key(r))
end
local function node_alive(n, now)
  local d = redis.call('ZSCORE', P .. 'nodes', n)
  return d and tonumber(d) > now
end
local function players_of(h_joins, h_leaves)
  local p = (tonumber(h_joins) or 0) - (tonumber(h_leaves) or 0)
  if p < 0 then p = 0 end
  return p
end
local function quick_keys(mode, region)
  return P .. 'quick:' .. mode, P .. 'quick:' .. mode .. '@' .. region
end
local function unindex(r, mode, region)
  local a, b = quick_keys(mode, region)
  redis.call('ZREM', a, r)
  redis.call('ZREM', b, r)
end
local function index(r, mode, region, taken, max)
  if taken >= max then
    unindex(r, mode, region)
  else
    local a, b = quick_keys(mode, region)
    redis.call('ZADD', a, taken, r)
    redis.call('ZADD', b, taken, r)
  end
end
local function answer(r, where)
  local h = redis.call('HMGET', room_key(r), 'node', 'id', 'mode', 'region', 'private', 'code', 'max', 'tick_hz')
  local url = redis.call('HGET', node_key(h[1]), 'url') or ''
  return {'ok', where, h[1], h[2], h[3], h[4], h[5], h[6] or '', h[7], h[8], url}
end
-- Takes a seat in room r of node `node` for a joiner on node `here`: counted at once if the
-- room is here (the owner writes its own count), else reserved under `ticket` until it expires.
local function take(r, node, here, ticket, seat_ms, now)
  if node == here then
    redis.call('HINCRBY', room_key(r), 'joins', 1)
    redis.call('HINCRBY', node_key(node), 'recent', 1)
    return 'here'
  end
  local expires = now + seat_ms
  local ttl = redis.call('PTTL', room_key(r))
  if ttl < seat_ms then ttl = seat_ms end
  redis.call('ZADD', seats_key(r), expires, ticket)
  redis.call('PEXPIRE', seats_key(r), ttl)
  redis.call('ZADD', P .. 'nodeseats:' .. node, expires, ticket)
  redis.call('PEXPIRE', P .. 'nodeseats:' .. node, seat_ms * 2)
  redis.call('HSET', P .. 'seat:' .. ticket, 'room', r)
  redis.call('PEXPIRE', P .. 'seat:' .. ticket, seat_ms)
  return 'there'
end
-- Seats taken in room r (players and live reservations), or nil if the room or its node is gone.
local function taken_in(r, now)
  local h = redis.call('HMGET', room_key(r), 'node', 'max', 'joins', 'leaves', 'mode', 'region', 'private')
  if not h[1] or not node_alive(h[1], now) then return nil end
  return players_of(h[3], h[4]) + live_seats(r, now), h
end
-- The live node with the least load (players, fresh seats) that plays `mode` in `region`
-- ('' any) and has room for a room and a player; `here` wins a tie, then the lower id.
local function least_loaded(mode, region, here, now)
  local best, best_load = nil, nil
  for _, n in ipairs(redis.call('ZRANGEBYSCORE', P .. 'nodes', now, '+inf')) do
    local h = redis.call('HMGET', node_key(n), 'players', 'recent', 'max_players', 'rooms', 'recent_rooms', 'max_rooms', 'modes', 'region')
    if h[7] and string.find(h[7], ',' .. mode .. ',', 1, true) and (region == '' or h[8] == region)
        and (tonumber(h[4]) or 0) + (tonumber(h[5]) or 0) < (tonumber(h[6]) or 0) then
      local seats = redis.call('ZCOUNT', P .. 'nodeseats:' .. n, now, '+inf')
      local load = (tonumber(h[1]) or 0) + (tonumber(h[2]) or 0) + seats
      if load < (tonumber(h[3]) or 0) then
        if best == nil or load < best_load
            or (load == best_load and (n == here or (best ~= here and n < best))) then
          best, best_load = n, load
        end
      end
    end
  end
  return best
end
-- A room opened in the directory on node n for the joiner about to take its first seat; the
-- node starts it when the seat is claimed. Expires unless its owner refreshes it by then.
local function open_room(n, mode, private, code, now, ttl_ms)
  local id = redis.call('HINCRBY', node_key(n), 'next_room', 1)
  redis.call('HINCRBY', node_key(n), 'recent_rooms', 1)
  local r = n .. ':' .. id
  local h = redis.call('HMGET', node_key(n), 'region', 'max_room_players', 'tick_hz')
  redis.call('HSET', room_key(r), 'node', n, 'id', id, 'mode', mode, 'region', h[1],
    'private', private, 'code', code, 'max', h[2], 'tick_hz', h[3], 'created', now,
    'joins', 0, 'leaves', 0)
  redis.call('PEXPIRE', room_key(r), ttl_ms)
  return r, h[1], tonumber(h[2])
end
"#
    };
}

/// Places a joiner: ARGV = P, here, op (`quick`, `room`, `code`, `private`), mode, region, room
/// id or code, ticket, seat ms, address, private rooms per address, new code, new room's ms.
/// Answers `answer(...)` or `{'err', reason}`.
pub const PLACE: &str = concat!(
    prelude!(),
    r#"
local here, op, mode, region, target, ticket = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local seat_ms, from, per_address = tonumber(ARGV[8]), ARGV[9], tonumber(ARGV[10])
local new_code, new_room_ms = ARGV[11], tonumber(ARGV[12])
local now = now_ms()

local function seat_in(r, check_private)
  local taken, h = taken_in(r, now)
  if not taken then return {'err', 'no_such_room'} end
  if h[7] ~= check_private then return {'err', 'no_such_room'} end
  if taken >= tonumber(h[2]) then return {'err', 'room_full'} end
  local where = take(r, h[1], here, ticket, seat_ms, now)
  if h[7] == '0' then index(r, h[5], h[6], taken + 1, tonumber(h[2])) end
  return answer(r, where)
end

if op == 'room' then
  return seat_in(here .. ':' .. target, '0')
elseif op == 'code' then
  local r = redis.call('GET', P .. 'code:' .. target)
  if not r then return {'err', 'no_such_room'} end
  return seat_in(r, '1')
elseif op == 'quick' then
  local all, in_region = quick_keys(mode, region)
  local idx = all
  if region ~= '' then idx = in_region end
  for _, r in ipairs(redis.call('ZREVRANGE', idx, 0, 31)) do
    local taken, h = taken_in(r, now)
    if not taken then
      redis.call('ZREM', all, r)
      redis.call('ZREM', in_region, r)
    elseif taken < tonumber(h[2]) then
      local where = take(r, h[1], here, ticket, seat_ms, now)
      index(r, h[5], h[6], taken + 1, tonumber(h[2]))
      return answer(r, where)
    else
      unindex(r, h[5], h[6])
    end
  end
  local n = least_loaded(mode, region, here, now)
  if not n then return {'err', 'no_node'} end
  local r, room_region, max = open_room(n, mode, '0', '', now, new_room_ms)
  local where = take(r, n, here, ticket, seat_ms, now)
  index(r, mode, room_region, 1, max)
  return answer(r, where)
elseif op == 'private' then
  local mine = P .. 'private:' .. from
  local open = 0
  for _, r in ipairs(redis.call('ZRANGE', mine, 0, -1)) do
    if redis.call('EXISTS', room_key(r)) == 1 then open = open + 1 else redis.call('ZREM', mine, r) end
  end
  if open >= per_address then return {'err', 'too_many_private'} end
  local n = least_loaded(mode, '', here, now)
  if not n then return {'err', 'no_node'} end
  if redis.call('EXISTS', P .. 'code:' .. new_code) == 1 then return {'err', 'code_taken'} end
  local r = open_room(n, mode, '1', new_code, now, new_room_ms)
  redis.call('SET', P .. 'code:' .. new_code, r, 'PX', new_room_ms)
  redis.call('ZADD', mine, now, r)
  redis.call('PEXPIRE', mine, 86400000)
  local where = take(r, n, here, ticket, seat_ms, now)
  return answer(r, where)
end
return {'err', 'bad_op'}
"#
);

/// Claims a seat ticket on the node its seat is on: ARGV = P, here, ticket. The seat becomes a
/// player counted by its owner (this node). Answers `answer(r, 'here')` or `{'err', reason}`.
pub const CLAIM: &str = concat!(
    prelude!(),
    r#"
local here, ticket = ARGV[2], ARGV[3]
local now = now_ms()
local r = redis.call('HGET', P .. 'seat:' .. ticket, 'room')
if not r then return {'err', 'seat_expired'} end
local node = redis.call('HGET', room_key(r), 'node')
if not node then return {'err', 'no_such_room'} end
if node ~= here then return {'err', 'wrong_node'} end
redis.call('DEL', P .. 'seat:' .. ticket)
redis.call('ZREM', P .. 'nodeseats:' .. node, ticket)
redis.call('ZREMRANGEBYSCORE', seats_key(r), '-inf', now)
if redis.call('ZREM', seats_key(r), ticket) == 0 then return {'err', 'seat_expired'} end
redis.call('HINCRBY', room_key(r), 'joins', 1)
redis.call('HINCRBY', node_key(node), 'recent', 1)
return answer(r, 'here')
"#
);

/// A node's heartbeat: renews its lease and every room it runs, takes closed rooms out, and
/// answers the live nodes (5 fields each), then `|`, then the ids of its rooms that hold seats
/// reserved from other nodes (not idle, whatever their own count says). ARGV = P, node, url, region, lease ms, room ms,
/// players, max players, max rooms, max room players, tick hz, modes (`,a,b,`), next room
/// floor, started ms, room count, closed count, then 10 fields per room (id, mode, region,
/// private, code, max, tick hz, created ms, joins, leaves), then the closed rooms' ids.
pub const HEARTBEAT: &str = concat!(
    prelude!(),
    r#"
local node, url, region = ARGV[2], ARGV[3], ARGV[4]
local lease_ms, room_ms = tonumber(ARGV[5]), tonumber(ARGV[6])
local rooms, closed = tonumber(ARGV[15]), tonumber(ARGV[16])
local now = now_ms()
redis.call('ZADD', P .. 'nodes', now + lease_ms, node)
redis.call('ZREMRANGEBYSCORE', P .. 'nodes', '-inf', now)
local nk = node_key(node)
redis.call('HSET', nk, 'url', url, 'region', region, 'players', ARGV[7], 'max_players', ARGV[8],
  'max_rooms', ARGV[9], 'max_room_players', ARGV[10], 'tick_hz', ARGV[11], 'modes', ARGV[12],
  'started', ARGV[14], 'rooms', rooms, 'recent', 0, 'recent_rooms', 0)
local next_room = tonumber(redis.call('HGET', nk, 'next_room') or '0')
if next_room < tonumber(ARGV[13]) then redis.call('HSET', nk, 'next_room', ARGV[13]) end
redis.call('PEXPIRE', nk, lease_ms)
local base = 16
local awaited = {}
for i = 0, rooms - 1 do
  local a = base + i * 10
  local id, mode, room_region, private, code = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local max, joins, leaves = tonumber(ARGV[a + 6]), tonumber(ARGV[a + 9]), tonumber(ARGV[a + 10])
  local r = node .. ':' .. id
  local rk = room_key(r)
  local known = tonumber(redis.call('HGET', rk, 'joins') or '0')
  if known > joins then joins = known end
  redis.call('HSET', rk, 'node', node, 'id', id, 'mode', mode, 'region', room_region,
    'private', private, 'code', code, 'max', max, 'tick_hz', ARGV[a + 7], 'created', ARGV[a + 8],
    'joins', joins, 'leaves', leaves, 'open', 1)
  redis.call('PEXPIRE', rk, room_ms)
  local seats = live_seats(r, now)
  local taken = players_of(joins, leaves) + seats
  if seats > 0 then
    redis.call('PEXPIRE', seats_key(r), room_ms)
    table.insert(awaited, id)
  end
  if private == '0' then
    redis.call('ZADD', P .. 'listed', now + room_ms, r)
    index(r, mode, room_region, taken, max)
  elseif code ~= '' then
    redis.call('SET', P .. 'code:' .. code, r, 'PX', room_ms)
  end
end
base = base + rooms * 10
for i = 1, closed do
  local r = node .. ':' .. ARGV[base + i]
  local h = redis.call('HMGET', room_key(r), 'mode', 'region', 'code')
  if h[1] then unindex(r, h[1], h[2]) end
  if h[3] and h[3] ~= '' and redis.call('GET', P .. 'code:' .. h[3]) == r then
    redis.call('DEL', P .. 'code:' .. h[3])
  end
  redis.call('DEL', room_key(r), seats_key(r))
  redis.call('ZREM', P .. 'listed', r)
end
redis.call('ZREMRANGEBYSCORE', P .. 'listed', '-inf', now)
local out = {}
for _, n in ipairs(redis.call('ZRANGEBYSCORE', P .. 'nodes', now, '+inf')) do
  local h = redis.call('HMGET', node_key(n), 'url', 'players', 'rooms', 'region')
  if h[1] then
    table.insert(out, n)
    table.insert(out, h[1])
    table.insert(out, h[2] or '0')
    table.insert(out, h[3] or '0')
    table.insert(out, h[4] or '')
  end
end
table.insert(out, '|')
for _, id in ipairs(awaited) do table.insert(out, id) end
return out
"#
);

/// The lobby's listing: ARGV = P, limit. Answers 10 fields per public room of a live node:
/// node, id, mode, region, players, max, locked (0/1), tick hz, created ms, node url.
pub const LISTING: &str = concat!(
    prelude!(),
    r#"
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', P .. 'listed', '-inf', now)
local out = {}
for _, r in ipairs(redis.call('ZRANGEBYSCORE', P .. 'listed', now, '+inf', 'LIMIT', 0, tonumber(ARGV[2]))) do
  local h = redis.call('HMGET', room_key(r), 'node', 'id', 'mode', 'region', 'max', 'tick_hz', 'created', 'joins', 'leaves')
  if h[1] and node_alive(h[1], now) then
    local players = players_of(h[8], h[9])
    local locked = '0'
    if players + live_seats(r, now) >= tonumber(h[5]) then locked = '1' end
    local url = redis.call('HGET', node_key(h[1]), 'url') or ''
    for _, v in ipairs({h[1], h[2], h[3], h[4], tostring(players), h[5], locked, h[6], h[7], url}) do
      table.insert(out, v)
    end
  end
end
return out
"#
);

/// Where a resume token's player is: ARGV = P, token. Answers `{}` (unknown), `{node, url}`
/// (live) or `{node, ''}` (its node has left the cluster).
pub const TOKEN_HOME: &str = concat!(
    prelude!(),
    r#"
local node = redis.call('GET', P .. 'token:' .. ARGV[2])
if not node then return {} end
if not node_alive(node, now_ms()) then return {node, ''} end
return {node, redis.call('HGET', node_key(node), 'url') or ''}
"#
);

/// A node leaving on purpose: ARGV = P, node, then its rooms' ids. Its lease, record and rooms
/// go at once instead of at the end of their TTL.
pub const DEPART: &str = concat!(
    prelude!(),
    r#"
local node = ARGV[2]
for i = 3, #ARGV do
  local r = node .. ':' .. ARGV[i]
  local h = redis.call('HMGET', room_key(r), 'mode', 'region', 'code')
  if h[1] then unindex(r, h[1], h[2]) end
  if h[3] and h[3] ~= '' then redis.call('DEL', P .. 'code:' .. h[3]) end
  redis.call('DEL', room_key(r), seats_key(r))
  redis.call('ZREM', P .. 'listed', r)
end
redis.call('ZREM', P .. 'nodes', node)
redis.call('DEL', node_key(node), P .. 'nodeseats:' .. node)
return 'ok'
"#
);

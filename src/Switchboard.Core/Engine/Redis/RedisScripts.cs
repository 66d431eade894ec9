namespace Switchboard.Engine.Redis;

/// <summary>
/// The Lua scripts of the Redis engine. Each runs atomically in Redis, so a publication is
/// appended to its stream, trimmed, given its TTLs, published and remembered under its
/// idempotency key in one round trip. Every time comparison uses the calling node's clock
/// (<c>now</c>, Unix milliseconds, passed in), so expiry follows the node's
/// <see cref="TimeProvider"/>; Redis key TTLs only collect garbage in real time.
/// Stream entry ids are <c>0-offset</c>, so history reads by offset are range reads.
/// </summary>
internal static class RedisScripts
{
    /// <summary>
    /// KEYS: stream, meta, idempotency key. ARGV: 1 publication JSON (without offset), 2 history
    /// size, 3 history TTL ms, 4 meta TTL ms, 5 now ms, 6 epoch for a new stream, 7 pub/sub
    /// channel, 8 'publish' or 'spublish', 9 idempotency TTL ms (0 = no key), 10 '1' to keep
    /// history. Returns { offset, epoch, suppressed }.
    /// The pub/sub message is <c>p{epoch}\n{offset}\n{json}</c>.
    /// </summary>
    public const string Publish = """
        local now = tonumber(ARGV[5])
        if ARGV[9] ~= '0' then
          local seen = redis.call('get', KEYS[3])
          if seen then
            local a = string.find(seen, ':', 1, true)
            local b = string.find(seen, ':', a + 1, true)
            if tonumber(string.sub(seen, 1, a - 1)) > now then
              return { tonumber(string.sub(seen, a + 1, b - 1)), string.sub(seen, b + 1), 1 }
            end
          end
        end
        local offset = 0
        local epoch = ''
        if ARGV[10] == '1' then
          local meta = redis.call('hmget', KEYS[2], 'e', 'x')
          epoch = meta[1]
          if not epoch or (meta[2] and tonumber(meta[2]) <= now) then
            epoch = ARGV[6]
            redis.call('del', KEYS[1])
            redis.call('hset', KEYS[2], 'e', epoch, 's', 0)
          end
          offset = redis.call('hincrby', KEYS[2], 's', 1)
          redis.call('xadd', KEYS[1], 'MAXLEN', ARGV[2], '0-' .. offset, 'd', ARGV[1], 'x', now + tonumber(ARGV[3]))
          redis.call('pexpire', KEYS[1], ARGV[3])
          redis.call('hset', KEYS[2], 'x', now + tonumber(ARGV[4]))
          redis.call('pexpire', KEYS[2], ARGV[4])
        end
        redis.call(ARGV[8], ARGV[7], 'p' .. epoch .. '\n' .. offset .. '\n' .. ARGV[1])
        if ARGV[9] ~= '0' then
          redis.call('set', KEYS[3], (now + tonumber(ARGV[9])) .. ':' .. offset .. ':' .. epoch, 'PX', ARGV[9])
        end
        return { offset, epoch, 0 }
        """;

    /// <summary>
    /// KEYS: stream, meta. ARGV: 1 now ms, 2 epoch for a new stream, 3 meta TTL ms, 4 since
    /// offset ('' = from the edge), 5 limit (-1 = all, 0 = position only), 6 '1' = newest first.
    /// Drops publications past their TTL first. Returns { top, epoch, id, json, id, json, ... }.
    /// </summary>
    public const string History = """
        local now = tonumber(ARGV[1])
        local meta = redis.call('hmget', KEYS[2], 'e', 's', 'x')
        local epoch = meta[1]
        local top = tonumber(meta[2] or '0')
        if not epoch or (meta[3] and tonumber(meta[3]) <= now) then
          epoch = ARGV[2]
          top = 0
          redis.call('del', KEYS[1])
          redis.call('hset', KEYS[2], 'e', epoch, 's', 0, 'x', now + tonumber(ARGV[3]))
          redis.call('pexpire', KEYS[2], ARGV[3])
        end
        local result = { top, epoch }
        while true do
          local first = redis.call('xrange', KEYS[1], '-', '+', 'COUNT', 1)
          if #first == 0 then break end
          local fields = first[1][2]
          local expires = 0
          for i = 1, #fields, 2 do
            if fields[i] == 'x' then expires = tonumber(fields[i + 1]) end
          end
          if expires > now then break end
          redis.call('xdel', KEYS[1], first[1][1])
        end
        local limit = tonumber(ARGV[5])
        if limit == 0 then return result end
        local entries
        if ARGV[6] == '1' then
          local upper = '+'
          if ARGV[4] ~= '' then upper = '(0-' .. ARGV[4] end
          if limit > 0 then
            entries = redis.call('xrevrange', KEYS[1], upper, '-', 'COUNT', limit)
          else
            entries = redis.call('xrevrange', KEYS[1], upper, '-')
          end
        else
          local lower = '-'
          if ARGV[4] ~= '' then lower = '(0-' .. ARGV[4] end
          if limit > 0 then
            entries = redis.call('xrange', KEYS[1], lower, '+', 'COUNT', limit)
          else
            entries = redis.call('xrange', KEYS[1], lower, '+')
          end
        end
        for _, entry in ipairs(entries) do
          local fields = entry[2]
          for i = 1, #fields, 2 do
            if fields[i] == 'd' then
              result[#result + 1] = entry[1]
              result[#result + 1] = fields[i + 1]
            end
          end
        end
        return result
        """;

    /// <summary>KEYS: info hash, expiry zset, user hash. ARGV: client id, info JSON, user, expire-at ms, garbage TTL ms.</summary>
    public const string AddPresence = """
        redis.call('zadd', KEYS[2], ARGV[4], ARGV[1])
        redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
        redis.call('hset', KEYS[3], ARGV[1], ARGV[3])
        redis.call('pexpire', KEYS[1], ARGV[5])
        redis.call('pexpire', KEYS[2], ARGV[5])
        redis.call('pexpire', KEYS[3], ARGV[5])
        return 1
        """;

    /// <summary>KEYS: info hash, expiry zset, user hash. ARGV: client id.</summary>
    public const string RemovePresence = """
        redis.call('zrem', KEYS[2], ARGV[1])
        redis.call('hdel', KEYS[1], ARGV[1])
        redis.call('hdel', KEYS[3], ARGV[1])
        return 1
        """;

    private const string DropExpiredPresence = """
        local expired = redis.call('zrangebyscore', KEYS[2], '-inf', ARGV[1])
        for _, id in ipairs(expired) do
          redis.call('hdel', KEYS[1], id)
          redis.call('hdel', KEYS[3], id)
        end
        if #expired > 0 then redis.call('zremrangebyscore', KEYS[2], '-inf', ARGV[1]) end
        """;

    /// <summary>KEYS: info hash, expiry zset, user hash. ARGV: now ms. Returns HGETALL of live entries.</summary>
    public const string Presence = DropExpiredPresence + """

        return redis.call('hgetall', KEYS[1])
        """;

    /// <summary>KEYS: info hash, expiry zset, user hash. ARGV: now ms. Returns { clients, users }.</summary>
    public const string PresenceStats = DropExpiredPresence + """

        local users = redis.call('hvals', KEYS[3])
        local distinct = {}
        local count = 0
        for _, u in ipairs(users) do
          if not distinct[u] then distinct[u] = true; count = count + 1 end
        end
        return { redis.call('hlen', KEYS[1]), count }
        """;

    /// <summary>
    /// The cluster-wide per-user connection count: a hash node uid → connections of the user on
    /// that node. KEYS: the user's hash. ARGV: 1 this node's uid, 2 limit, 3 garbage TTL ms,
    /// 4 '1' when the caller's registry is complete (it has run for two node TTLs), so fields of
    /// nodes missing from it are dead and dropped, 5.. uids of the live nodes (only they count).
    /// Returns 1 when added.
    /// </summary>
    public const string AddUserConnection = """
        local live = {}
        for i = 5, #ARGV do live[ARGV[i]] = true end
        local all = redis.call('hgetall', KEYS[1])
        local total = 0
        for i = 1, #all, 2 do
          if live[all[i]] then
            total = total + tonumber(all[i + 1])
          elseif ARGV[4] == '1' then
            redis.call('hdel', KEYS[1], all[i])
          end
        end
        if total >= tonumber(ARGV[2]) then return 0 end
        redis.call('hincrby', KEYS[1], ARGV[1], 1)
        redis.call('pexpire', KEYS[1], ARGV[3])
        return 1
        """;

    /// <summary>KEYS: the user's hash. ARGV: this node's uid.</summary>
    public const string RemoveUserConnection = """
        local left = redis.call('hincrby', KEYS[1], ARGV[1], -1)
        if left <= 0 then redis.call('hdel', KEYS[1], ARGV[1]) end
        return left
        """;

    /// <summary>
    /// KEYS: revoked-token key. ARGV: 1 revoked until (Unix ms, node clock), 2 key TTL ms.
    /// Keeps the later of the stored and the given time.
    /// </summary>
    public const string RevokeToken = """
        local u = tonumber(redis.call('get', KEYS[1]) or '0')
        if tonumber(ARGV[1]) > u then redis.call('set', KEYS[1], ARGV[1]) end
        if redis.call('pttl', KEYS[1]) < tonumber(ARGV[2]) then redis.call('pexpire', KEYS[1], ARGV[2]) end
        return 1
        """;

    /// <summary>
    /// KEYS: revoked-user-tokens hash (b: issued-before, u: remembered until; Unix ms). ARGV:
    /// 1 issued before, 2 until, 3 key TTL ms, 4 now. Keeps the later of each time; an entry
    /// past its time (node clock) starts over.
    /// </summary>
    public const string InvalidateUserTokens = """
        local now = tonumber(ARGV[4])
        local e = redis.call('hmget', KEYS[1], 'b', 'u')
        local b = tonumber(e[1] or '0')
        local u = tonumber(e[2] or '0')
        if u <= now then b = 0 end
        if tonumber(ARGV[1]) > b then b = tonumber(ARGV[1]) end
        if tonumber(ARGV[2]) > u then u = tonumber(ARGV[2]) end
        redis.call('hset', KEYS[1], 'b', b, 'u', u)
        if redis.call('pttl', KEYS[1]) < tonumber(ARGV[3]) then redis.call('pexpire', KEYS[1], ARGV[3]) end
        return 1
        """;

    /// <summary>KEYS: revoked-token key, revoked-user-tokens hash. Returns { token until or false, user issued-before or false, user until or false }.</summary>
    public const string ReadRevocation = """
        local t = redis.call('get', KEYS[1])
        local e = redis.call('hmget', KEYS[2], 'b', 'u')
        return { t, e[1], e[2] }
        """;
}

using System.Text.Json;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Switchboard.Protocol;
using ClientInfo = Switchboard.Protocol.ClientInfo;

namespace Switchboard.Engine.Redis;

/// <summary>
/// Presence in Redis, shared by every node: per channel a hash client → info, a sorted set
/// client → expiry (the node's clock) and a hash client → user for distinct-user counts. Nodes
/// refresh their clients' entries; a dead node's entries drop out at their expiry.
/// </summary>
public sealed partial class RedisPresenceManager : IPresenceManager
{
    private readonly RedisShard[] _shards;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    internal RedisPresenceManager(RedisShard[] shards, TimeProvider time, ILogger logger)
    {
        _shards = shards;
        _time = time;
        _logger = logger;
    }

    private RedisShard ShardFor(string channel) => _shards[JumpHash.Bucket(channel, _shards.Length)];

    private static RedisKey[] Keys(RedisShard shard, string channel)
        => [shard.PresenceKey(channel), shard.PresenceExpiryKey(channel), shard.PresenceUserKey(channel)];

    /// <inheritdoc/>
    public async Task AddPresenceAsync(string channel, ClientInfo info, TimeSpan ttl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(info);
        var shard = ShardFor(channel);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var ttlMs = Math.Max(1, (long)ttl.TotalMilliseconds);
        await shard.ScriptAsync(RedisScripts.AddPresence, Keys(shard, channel),
        [
            info.Client,
            JsonSerializer.SerializeToUtf8Bytes(info, ProtocolJsonContext.Default.ClientInfo),
            info.User,
            now + ttlMs,
            // Garbage collection in real time: never shorter than a minute, whatever the TTL.
            Math.Max(ttlMs, 60_000),
        ]).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task RemovePresenceAsync(string channel, string clientId, CancellationToken cancellationToken)
    {
        var shard = ShardFor(channel);
        try
        {
            await shard.ScriptAsync(RedisScripts.RemovePresence, Keys(shard, channel), [clientId]).ConfigureAwait(false);
        }
        catch (ProtocolException e)
        {
            // The entry expires by itself at its TTL.
            Log.RemoveFailed(_logger, channel, clientId, e.Message);
        }
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyDictionary<string, ClientInfo>> PresenceAsync(string channel, CancellationToken cancellationToken)
    {
        var shard = ShardFor(channel);
        var result = (RedisResult[])(await shard.ScriptAsync(RedisScripts.Presence, Keys(shard, channel),
            [_time.GetUtcNow().ToUnixTimeMilliseconds()]).ConfigureAwait(false))!;
        var presence = new Dictionary<string, ClientInfo>(result.Length / 2, StringComparer.Ordinal);
        for (var i = 0; i + 1 < result.Length; i += 2)
        {
            presence[(string)result[i]!] = JsonSerializer.Deserialize((byte[])result[i + 1]!, ProtocolJsonContext.Default.ClientInfo)!;
        }
        return presence;
    }

    /// <inheritdoc/>
    public async Task<PresenceStats> PresenceStatsAsync(string channel, CancellationToken cancellationToken)
    {
        var shard = ShardFor(channel);
        var result = (RedisResult[])(await shard.ScriptAsync(RedisScripts.PresenceStats, Keys(shard, channel),
            [_time.GetUtcNow().ToUnixTimeMilliseconds()]).ConfigureAwait(false))!;
        return new PresenceStats((int)result[0], (int)result[1]);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 50, Level = LogLevel.Warning, Message = "Removing presence of {Client} in {Channel} failed (it expires by itself): {Error}")]
        public static partial void RemoveFailed(ILogger logger, string channel, string client, string error);
    }
}

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Channels;

namespace Switchboard.Engine.Redis;

/// <summary>
/// The Redis engine: a broker, presence and cluster control over one or more Redis shards
/// (<see cref="RedisOptions.Addresses"/>), channels spread by jump consistent hashing.
/// </summary>
public sealed class RedisEngine : IAsyncDisposable
{
    private readonly RedisShard[] _shards;

    private RedisEngine(RedisShard[] shards, TimeProvider time, ILoggerFactory loggers)
    {
        _shards = shards;
        Broker = new RedisBroker(shards, time, loggers.CreateLogger<RedisBroker>());
        Presence = new RedisPresenceManager(shards, time, loggers.CreateLogger<RedisPresenceManager>());
        Control = new RedisClusterControl(shards, loggers.CreateLogger<RedisClusterControl>());
        Revocations = new RedisTokenRevocationStore(shards, time);
    }

    /// <summary>The broker (pub/sub and streams).</summary>
    public RedisBroker Broker { get; }

    /// <summary>Presence.</summary>
    public RedisPresenceManager Presence { get; }

    /// <summary>Control messages and cluster-wide counters.</summary>
    public RedisClusterControl Control { get; }

    /// <summary>Revoked tokens, shared by the cluster.</summary>
    public RedisTokenRevocationStore Revocations { get; }

    /// <summary>True when every shard has a connection right now.</summary>
    public bool IsConnected => _shards.All(s => s.Connection.IsConnected);

    /// <summary>
    /// Connects to every shard. Returns even when Redis is not reachable yet: the connections
    /// keep retrying with backoff, and calls fail with a temporary error 100 meanwhile.
    /// </summary>
    public static async Task<RedisEngine> ConnectAsync(RedisOptions options, TimeProvider time, ILoggerFactory? loggers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        loggers ??= NullLoggerFactory.Instance;
        var addresses = options.Addresses.Count > 0 ? options.Addresses : ["127.0.0.1:6379"];
        var logger = loggers.CreateLogger<RedisEngine>();
        var shards = new RedisShard[addresses.Count];
        for (var i = 0; i < shards.Length; i++)
        {
            shards[i] = await RedisShard.ConnectAsync(i, addresses[i], options.Cluster, options.Prefix, $"switchboard-{Environment.ProcessId}", logger).ConfigureAwait(false);
        }
        var engine = new RedisEngine(shards, time, loggers);
        await engine.Control.StartAsync().ConfigureAwait(false);
        return engine;
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await Control.StopAsync().ConfigureAwait(false);
        foreach (var shard in _shards)
        {
            await shard.DisposeAsync().ConfigureAwait(false);
        }
    }
}

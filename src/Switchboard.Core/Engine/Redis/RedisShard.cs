using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Switchboard.Protocol;

namespace Switchboard.Engine.Redis;

/// <summary>
/// One Redis deployment the engine spreads channels over: a single server, a Sentinel-managed
/// primary (StackExchange.Redis follows failovers) or a whole Redis Cluster. Names every key and
/// pub/sub channel of a Switchboard channel with the channel as hash tag (<c>{channel}</c>), so a
/// channel's keys share a Cluster slot and one script can touch them all.
/// </summary>
internal sealed partial class RedisShard : IAsyncDisposable
{
    private readonly string _prefix;
    private readonly ILogger _logger;

    private RedisShard(int index, ConnectionMultiplexer connection, bool cluster, string prefix, ILogger logger)
    {
        Index = index;
        Connection = connection;
        Cluster = cluster;
        _prefix = prefix;
        _logger = logger;
        Database = connection.GetDatabase();
        Subscriber = connection.GetSubscriber();
        PublishCommand = cluster ? "spublish" : "publish";
    }

    public int Index { get; }
    public ConnectionMultiplexer Connection { get; }
    public bool Cluster { get; }
    public IDatabase Database { get; }
    public ISubscriber Subscriber { get; }
    public string PublishCommand { get; }

    public static async Task<RedisShard> ConnectAsync(int index, string address, bool cluster, string prefix, string clientName, ILogger logger)
    {
        var options = ConfigurationOptions.Parse(address);
        // A node starts, and keeps running, while Redis is away: StackExchange.Redis reconnects
        // (with backoff) and restores the pub/sub subscriptions by itself.
        options.AbortOnConnectFail = false;
        options.ConnectRetry = 3;
        options.ReconnectRetryPolicy = new ExponentialRetry(250, 5000);
        // While disconnected, fail at once (a temporary error the client retries) rather than
        // queueing commands that would each wait out the timeout.
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.ClientName ??= clientName;
        options.ConnectTimeout = Math.Min(options.ConnectTimeout, 5000);
        options.SyncTimeout = Math.Min(options.SyncTimeout, 5000);
        options.AsyncTimeout = Math.Min(options.AsyncTimeout, 5000);
        var connection = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        var shard = new RedisShard(index, connection, cluster, prefix, logger);
        connection.ConnectionFailed += (_, e) => Log.ConnectionFailed(logger, index, e.ConnectionType, e.EndPoint, e.FailureType);
        connection.ConnectionRestored += (_, e) => Log.ConnectionRestored(logger, index, e.ConnectionType, e.EndPoint);
        if (!connection.IsConnected)
        {
            Log.NotConnectedAtStart(logger, index, address);
        }
        return shard;
    }

    public RedisKey StreamKey(string channel) => $"{_prefix}.stream.{{{channel}}}";
    public RedisKey MetaKey(string channel) => $"{_prefix}.meta.{{{channel}}}";
    // The pair is hashed so that no two (channel, key) pairs spell the same Redis key (a channel
    // may hold '}' and '.'); the channel stays in the hash tag, beside its stream.
    public RedisKey IdempotencyKey(string channel, string key)
        => $"{_prefix}.idempotency.{{{channel}}}.{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{channel.Length}:{channel}:{key}")).AsSpan(0, 16))}";
    public RedisKey PresenceKey(string channel) => $"{_prefix}.presence.{{{channel}}}";
    public RedisKey PresenceExpiryKey(string channel) => $"{_prefix}.presence-expiry.{{{channel}}}";
    public RedisKey PresenceUserKey(string channel) => $"{_prefix}.presence-user.{{{channel}}}";
    public RedisKey UserConnectionsKey(string user) => $"{_prefix}.user-connections.{{{user}}}";
    // Revocations (see RedisTokenRevocationStore): hash-tagged by the jti or user they are about.
    public RedisKey RevokedTokenKey(string jti) => $"{_prefix}.revoked-token.{{{jti}}}";
    public RedisKey UserTokensRevokedKey(string user) => $"{_prefix}.revoked-user-tokens.{{{user}}}";

    /// <summary>The name of the pub/sub channel carrying a Switchboard channel's publications, joins and leaves.</summary>
    public string PubSubName(string channel) => $"{_prefix}.channel.{{{channel}}}";

    /// <summary>That pub/sub channel: sharded (SSUBSCRIBE/SPUBLISH) in a Redis Cluster.</summary>
    public RedisChannel PubSubChannel(string channel)
        => Cluster ? RedisChannel.Sharded(PubSubName(channel)) : RedisChannel.Literal(PubSubName(channel));

    /// <summary>The channel every node listens to for control messages (classic pub/sub: in a Cluster it reaches every node).</summary>
    public RedisChannel ControlChannel => RedisChannel.Literal($"{_prefix}.control");

    /// <summary>Runs a script; connection trouble becomes a temporary error 100 for the caller.</summary>
    public async Task<RedisResult> ScriptAsync(string script, RedisKey[] keys, RedisValue[] values)
    {
        try
        {
            return await Database.ScriptEvaluateAsync(script, keys, values).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException || (e is RedisServerException && IsTransient(e.Message)))
        {
            Log.CommandFailed(_logger, Index, e.Message);
            throw Unavailable();
        }
    }

    private static bool IsTransient(string message)
        => message.StartsWith("LOADING", StringComparison.Ordinal)
        || message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
        || message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal)
        || message.StartsWith("MASTERDOWN", StringComparison.Ordinal)
        || message.StartsWith("READONLY", StringComparison.Ordinal);

    public static ProtocolException Unavailable()
        => new(ErrorCodes.Internal, "engine unavailable, try again", temporary: true);

    public async ValueTask DisposeAsync() => await Connection.DisposeAsync().ConfigureAwait(false);

    private static partial class Log
    {
        [LoggerMessage(EventId = 40, Level = LogLevel.Warning, Message = "Redis shard {Shard}: {ConnectionType} connection to {EndPoint} failed ({FailureType})")]
        public static partial void ConnectionFailed(ILogger logger, int shard, ConnectionType connectionType, System.Net.EndPoint? endPoint, ConnectionFailureType failureType);

        [LoggerMessage(EventId = 41, Level = LogLevel.Information, Message = "Redis shard {Shard}: {ConnectionType} connection to {EndPoint} restored")]
        public static partial void ConnectionRestored(ILogger logger, int shard, ConnectionType connectionType, System.Net.EndPoint? endPoint);

        [LoggerMessage(EventId = 42, Level = LogLevel.Warning, Message = "Redis shard {Shard} ({Address}) is not reachable at start; the node keeps trying")]
        public static partial void NotConnectedAtStart(ILogger logger, int shard, string address);

        [LoggerMessage(EventId = 43, Level = LogLevel.Warning, Message = "Redis shard {Shard}: command failed: {Error}")]
        public static partial void CommandFailed(ILogger logger, int shard, string error);
    }
}

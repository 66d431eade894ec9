using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Switchboard.Engine.Redis;

/// <summary>
/// Control messages over one pub/sub channel of the first shard (every node listens to it), and
/// the cluster-wide per-user connection count as a hash per user: node uid → connections there.
/// Only live nodes' fields count, so a dead node's connections stop counting when it leaves the
/// registry. Each node also listens on a channel of its own (<c>…control.&lt;node uid&gt;</c>) for
/// messages meant for it alone.
/// </summary>
public sealed partial class RedisClusterControl : IClusterControl
{
    private readonly RedisShard[] _shards;
    private readonly ILogger _logger;
    private Action<ReadOnlyMemory<byte>>? _handler;
    private ChannelMessageQueue? _queue;

    internal RedisClusterControl(RedisShard[] shards, ILogger logger)
    {
        _shards = shards;
        _logger = logger;
    }

    private RedisShard ControlShard => _shards[0];

    /// <inheritdoc/>
    public bool IsDistributed => true;

    /// <inheritdoc/>
    public void RegisterHandler(Action<ReadOnlyMemory<byte>> handler) => _handler = handler;

    private readonly CancellationTokenSource _stopping = new();

    // Subscribes to the control channel; while Redis is away at start, keeps trying in the
    // background (the node starts anyway and works as a lone node until then).
    internal async Task StartAsync()
    {
        if (!await TrySubscribeAsync().ConfigureAwait(false))
        {
            _ = RetrySubscribeAsync();
        }
    }

    private async Task RetrySubscribeAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (await TrySubscribeAsync().ConfigureAwait(false))
            {
                return;
            }
        }
    }

    private async Task<bool> TrySubscribeAsync()
    {
        try
        {
            _queue = await ControlShard.Subscriber.SubscribeAsync(ControlShard.ControlChannel).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
        {
            Log.ControlSubscribeFailed(_logger, e.Message);
            try
            {
                await ControlShard.Subscriber.UnsubscribeAsync(ControlShard.ControlChannel, null, CommandFlags.FireAndForget).ConfigureAwait(false);
            }
            catch (Exception again) when (again is RedisConnectionException or RedisTimeoutException)
            {
                // Not connected: nothing is subscribed either.
            }
            return false;
        }
        _queue.OnMessage(message =>
        {
            try
            {
                _handler?.Invoke((ReadOnlyMemory<byte>)message.Message);
            }
#pragma warning disable CA1031 // a bad control message must not end the control queue
            catch (Exception e)
#pragma warning restore CA1031
            {
                Log.BadControlMessage(_logger, e);
            }
        });
        return true;
    }

    /// <inheritdoc/>
    public async Task BroadcastAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        try
        {
            await ControlShard.Subscriber.PublishAsync(ControlShard.ControlChannel, message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
        {
            throw RedisShard.Unavailable();
        }
    }

    private ChannelMessageQueue? _nodeQueue;

    private RedisChannel NodeChannel(string nodeUid) => RedisChannel.Literal($"{ControlShard.ControlChannel}.{nodeUid}");

    /// <inheritdoc/>
    public async Task ListenAsNodeAsync(string nodeUid, Action<ReadOnlyMemory<byte>> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var channel = NodeChannel(nodeUid);
        while (true)
        {
            try
            {
                _nodeQueue = await ControlShard.Subscriber.SubscribeAsync(channel).ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
            {
                Log.ControlSubscribeFailed(_logger, e.Message);
                try
                {
                    await ControlShard.Subscriber.UnsubscribeAsync(channel, null, CommandFlags.FireAndForget).ConfigureAwait(false);
                }
                catch (Exception again) when (again is RedisConnectionException or RedisTimeoutException)
                {
                    // Not connected: nothing is subscribed either.
                }
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return; // stopping: this node will not listen any more
                }
            }
        }
        _nodeQueue.OnMessage(message =>
        {
            try
            {
                handler((ReadOnlyMemory<byte>)message.Message);
            }
#pragma warning disable CA1031 // a bad message must not end the node's queue
            catch (Exception e)
#pragma warning restore CA1031
            {
                Log.BadControlMessage(_logger, e);
            }
        });
    }

    /// <inheritdoc/>
    public async Task SendToNodeAsync(string nodeUid, ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        try
        {
            await ControlShard.Subscriber.PublishAsync(NodeChannel(nodeUid), message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
        {
            throw RedisShard.Unavailable();
        }
    }

    /// <inheritdoc/>
    public async Task<bool> TryAddUserConnectionAsync(string user, string nodeUid, int limit, IReadOnlyCollection<string> liveNodeUids, bool registryComplete, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(liveNodeUids);
        var shard = _shards[JumpHash.Bucket(user, _shards.Length)];
        var values = new RedisValue[4 + liveNodeUids.Count];
        values[0] = nodeUid;
        values[1] = limit;
        values[2] = (long)TimeSpan.FromDays(1).TotalMilliseconds;
        values[3] = registryComplete ? "1" : "0";
        var i = 4;
        foreach (var uid in liveNodeUids)
        {
            values[i++] = uid;
        }
        var added = await shard.ScriptAsync(RedisScripts.AddUserConnection, [shard.UserConnectionsKey(user)], values).ConfigureAwait(false);
        return (long)added == 1;
    }

    /// <inheritdoc/>
    public async Task RemoveUserConnectionAsync(string user, string nodeUid, CancellationToken cancellationToken)
    {
        var shard = _shards[JumpHash.Bucket(user, _shards.Length)];
        await shard.ScriptAsync(RedisScripts.RemoveUserConnection, [shard.UserConnectionsKey(user)], [nodeUid]).ConfigureAwait(false);
    }

    internal async Task StopAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_nodeQueue is { } nodeQueue)
        {
            try
            {
                await nodeQueue.UnsubscribeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
            {
                // Going away anyway.
            }
        }
        if (_queue is { } queue)
        {
            try
            {
                await queue.UnsubscribeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
            {
                // Going away anyway.
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 51, Level = LogLevel.Error, Message = "A control message could not be handled")]
        public static partial void BadControlMessage(ILogger logger, Exception error);

        [LoggerMessage(EventId = 52, Level = LogLevel.Warning, Message = "Subscribing to the control channel failed (retrying every second): {Error}")]
        public static partial void ControlSubscribeFailed(ILogger logger, string error);
    }
}

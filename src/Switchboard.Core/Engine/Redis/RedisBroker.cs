using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Switchboard.Protocol;
using ClientInfo = Switchboard.Protocol.ClientInfo;
using StreamPosition = Switchboard.Protocol.StreamPosition;

namespace Switchboard.Engine.Redis;

/// <summary>
/// The broker of a Redis cluster: publications go through one Lua script per publish (stream
/// append, trim, TTLs, pub/sub publish, idempotency key), nodes receive them over pub/sub on the
/// channels they have local subscribers for. Channels are spread over the shards by jump hash.
/// Each subscribed channel has its own ordered message queue, so per-channel order is kept while
/// channels are handled in parallel.
/// </summary>
public sealed partial class RedisBroker : IBroker
{
    private readonly RedisShard[] _shards;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, ChannelMessageQueue> _subscriptions = new(StringComparer.Ordinal);
    private IBrokerEventHandler? _handler;

    internal RedisBroker(RedisShard[] shards, TimeProvider time, ILogger logger)
    {
        _shards = shards;
        _time = time;
        _logger = logger;
        foreach (var shard in shards)
        {
            var s = shard;
            shard.Connection.ConnectionRestored += (_, e) =>
            {
                if (e.ConnectionType == ConnectionType.Subscription)
                {
                    _ = OnSubscriptionRestoredAsync(s);
                }
            };
        }
    }

    private IBrokerEventHandler Handler => _handler ?? throw new InvalidOperationException("No broker event handler registered.");

    /// <summary>Channels this node is subscribed to in Redis (for tests and diagnostics).</summary>
    public int SubscribedChannelCount => _subscriptions.Count;

    /// <inheritdoc/>
    public void RegisterEventHandler(IBrokerEventHandler handler) => _handler = handler;

    internal RedisShard ShardFor(string channel) => _shards[JumpHash.Bucket(channel, _shards.Length)];

    /// <inheritdoc/>
    public async Task<PublishOutcome> PublishAsync(string channel, Publication publication, PublishOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(publication);
        ArgumentNullException.ThrowIfNull(options);
        var shard = ShardFor(channel);
        publication.Offset = 0;
        var json = JsonSerializer.SerializeToUtf8Bytes(publication, ProtocolJsonContext.Default.Publication);
        var idempotent = options.IdempotencyKey is { Length: > 0 };
        var result = (RedisResult[])(await shard.ScriptAsync(RedisScripts.Publish,
            [shard.StreamKey(channel), shard.MetaKey(channel), idempotent ? shard.IdempotencyKey(channel, options.IdempotencyKey!) : shard.MetaKey(channel)],
            [
                json,
                options.HistorySize,
                Milliseconds(options.HistoryTtl),
                Milliseconds(options.HistoryMetaTtl),
                _time.GetUtcNow().ToUnixTimeMilliseconds(),
                NewEpoch(),
                shard.PubSubName(channel),
                shard.PublishCommand,
                idempotent ? Milliseconds(options.IdempotentResultTtl) : 0,
                options.UseHistory ? "1" : "0",
            ]).ConfigureAwait(false))!;
        var position = new StreamPosition { Offset = (ulong)(long)result[0], Epoch = (string?)result[1] ?? "" };
        publication.Offset = position.Offset;
        publication.Epoch = position.Epoch;
        return new PublishOutcome(position, (long)result[2] == 1);
    }

    /// <inheritdoc/>
    public Task PublishJoinAsync(string channel, ClientInfo info, CancellationToken cancellationToken)
        => PublishEventAsync(channel, 'j', info);

    /// <inheritdoc/>
    public Task PublishLeaveAsync(string channel, ClientInfo info, CancellationToken cancellationToken)
        => PublishEventAsync(channel, 'l', info);

    private async Task PublishEventAsync(string channel, char kind, ClientInfo info)
    {
        var shard = ShardFor(channel);
        var message = kind + JsonSerializer.Serialize(info, ProtocolJsonContext.Default.ClientInfo);
        try
        {
            await shard.Subscriber.PublishAsync(shard.PubSubChannel(channel), message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
        {
            // Joins and leaves are best effort (they are not in history); presence stays right.
            Log.EventLost(_logger, channel, e.Message);
        }
    }

    /// <inheritdoc/>
    public async Task SubscribeAsync(string channel, CancellationToken cancellationToken)
    {
        if (_subscriptions.ContainsKey(channel))
        {
            return;
        }
        var shard = ShardFor(channel);
        ChannelMessageQueue queue;
        try
        {
            // Subscribes issued together are pipelined on the shard's one pub/sub connection:
            // a burst of thousands of new channels costs a few socket writes, not a round trip each.
            queue = await shard.Subscriber.SubscribeAsync(shard.PubSubChannel(channel)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
        {
            Log.SubscribeFailed(_logger, channel, e.Message);
            // The client library may keep the failed subscription and restore it on reconnect,
            // into a queue nobody reads: drop it (a later subscribe starts afresh).
            try
            {
                await shard.Subscriber.UnsubscribeAsync(shard.PubSubChannel(channel), null, CommandFlags.FireAndForget).ConfigureAwait(false);
            }
            catch (Exception again) when (again is RedisConnectionException or RedisTimeoutException)
            {
                // Not connected: nothing is subscribed in Redis either.
            }
            throw RedisShard.Unavailable();
        }
        queue.OnMessage(message => OnMessage(channel, message.Message));
        if (!_subscriptions.TryAdd(channel, queue))
        {
            await queue.UnsubscribeAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async Task UnsubscribeAsync(string channel, CancellationToken cancellationToken)
    {
        if (!_subscriptions.TryRemove(channel, out var queue))
        {
            return;
        }
        try
        {
            await queue.UnsubscribeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
        {
            // Messages of a channel with no local subscriber are dropped by the hub; the
            // subscription goes when the connection is next re-established without it.
            Log.UnsubscribeFailed(_logger, channel, e.Message);
        }
    }

    /// <inheritdoc/>
    public async Task<HistoryPage> HistoryAsync(string channel, HistoryQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var shard = ShardFor(channel);
        var result = (RedisResult[])(await shard.ScriptAsync(RedisScripts.History,
            [shard.StreamKey(channel), shard.MetaKey(channel)],
            [
                _time.GetUtcNow().ToUnixTimeMilliseconds(),
                NewEpoch(),
                Milliseconds(query.MetaTtl),
                query.Since is { } s ? s.Offset.ToString(CultureInfo.InvariantCulture) : "",
                query.Limit < 0 ? -1 : query.Limit,
                query.Reverse ? "1" : "0",
            ]).ConfigureAwait(false))!;
        var position = new StreamPosition { Offset = (ulong)(long)result[0], Epoch = (string?)result[1] ?? "" };
        if (query.Since is { } since && since.Epoch != position.Epoch)
        {
            throw new ProtocolException(ErrorCodes.UnrecoverablePosition, "unrecoverable position");
        }
        var publications = new List<Publication>((result.Length - 2) / 2);
        for (var i = 2; i + 1 < result.Length; i += 2)
        {
            var id = (string)result[i]!;
            var publication = JsonSerializer.Deserialize((byte[])result[i + 1]!, ProtocolJsonContext.Default.Publication)!;
            publication.Offset = ulong.Parse(id.AsSpan(id.IndexOf('-', StringComparison.Ordinal) + 1), CultureInfo.InvariantCulture);
            publication.Epoch = position.Epoch;
            publications.Add(publication);
        }
        return new HistoryPage(publications, position);
    }

    /// <inheritdoc/>
    public async Task RemoveHistoryAsync(string channel, CancellationToken cancellationToken)
    {
        var shard = ShardFor(channel);
        try
        {
            await shard.Database.KeyDeleteAsync(shard.StreamKey(channel)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
        {
            throw RedisShard.Unavailable();
        }
    }

    private void OnMessage(string channel, RedisValue value)
    {
        try
        {
            var bytes = (ReadOnlyMemory<byte>)value;
            var span = bytes.Span;
            switch ((char)span[0])
            {
                case 'p':
                    var endEpoch = span.IndexOf((byte)'\n');
                    var rest = span[(endEpoch + 1)..];
                    var endOffset = rest.IndexOf((byte)'\n');
                    var publication = JsonSerializer.Deserialize(rest[(endOffset + 1)..], ProtocolJsonContext.Default.Publication)!;
                    publication.Epoch = Encoding.UTF8.GetString(span[1..endEpoch]);
                    publication.Offset = ulong.Parse(rest[..endOffset], CultureInfo.InvariantCulture);
                    Handler.OnPublication(channel, publication);
                    break;
                case 'j':
                    Handler.OnJoin(channel, JsonSerializer.Deserialize(span[1..], ProtocolJsonContext.Default.ClientInfo)!);
                    break;
                case 'l':
                    Handler.OnLeave(channel, JsonSerializer.Deserialize(span[1..], ProtocolJsonContext.Default.ClientInfo)!);
                    break;
                case 'k':
                    // A node's probe after a reconnect: its own comes back to it; others ignore it.
                    if (_probes.TryGetValue(Encoding.UTF8.GetString(span[1..]), out var probe))
                    {
                        probe.TrySetResult();
                    }
                    break;
                default:
                    Log.BadMessage(_logger, channel, null);
                    break;
            }
        }
#pragma warning disable CA1031 // one bad message must not end the channel's queue
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.BadMessage(_logger, channel, e);
        }
    }

    // After the pub/sub connection comes back, every message published meanwhile is lost for this
    // node: its channels' subscribers must resubscribe and recover from the streams. They are told
    // only once this node's subscriptions are back in Redis, or a publication made right after
    // their recovery could still miss the node. The client library re-subscribes by itself but
    // says not when that is done (some channels only at its next heartbeat), so the node proves it:
    // it publishes a probe into each channel and waits until its own probes come back.
    private async Task OnSubscriptionRestoredAsync(RedisShard shard)
    {
        await _restoreGate.WaitAsync().ConfigureAwait(false);
        try
        {
            var channels = _subscriptions.Keys.Where(c => ShardFor(c) == shard).ToList();
            Log.Resubscribing(_logger, shard.Index, channels.Count);
            if (channels.Count == 0)
            {
                return;
            }
            var missing = await ProbeAsync(shard, channels).ConfigureAwait(false);
            if (missing > 0)
            {
                Log.ProbesLost(_logger, shard.Index, missing, channels.Count);
            }
            Handler.OnChannelsInterrupted(channels);
        }
        finally
        {
            _restoreGate.Release();
        }
    }

    private readonly SemaphoreSlim _restoreGate = new(1, 1);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _probes = new(StringComparer.Ordinal);

    // A network wait, on the real clock even when the node runs on fake time.
    private static readonly TimeSpan ProbeRound = TimeSpan.FromMilliseconds(500);
    private const int ProbeRounds = 20;

    // Publishes a probe into every channel until each has come back (or the rounds run out);
    // returns how many never came back. Other nodes ignore the probes.
    private async Task<int> ProbeAsync(RedisShard shard, List<string> channels)
    {
        var pending = channels.ToDictionary(c => c, _ => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)), StringComparer.Ordinal);
        var nonces = pending.Values.ToList();
        foreach (var nonce in nonces)
        {
            _probes[nonce] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        try
        {
            for (var round = 0; round < ProbeRounds && pending.Count > 0; round++)
            {
                try
                {
                    await Task.WhenAll(pending.Select(p => shard.Subscriber.PublishAsync(shard.PubSubChannel(p.Key), "k" + p.Value))).ConfigureAwait(false);
                }
                catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
                {
                    // Gone again: the next restore probes afresh; wait out this round.
                }
                var arrived = Task.WhenAll(pending.Values.Select(n => _probes[n].Task));
                await Task.WhenAny(arrived, Task.Delay(ProbeRound)).ConfigureAwait(false);
                foreach (var (channel, nonce) in pending.ToList())
                {
                    if (_probes[nonce].Task.IsCompleted)
                    {
                        pending.Remove(channel);
                    }
                }
            }
            return pending.Count;
        }
        finally
        {
            foreach (var nonce in nonces)
            {
                _probes.TryRemove(nonce, out _);
            }
        }
    }

    private static long Milliseconds(TimeSpan span) => Math.Max(1, (long)span.TotalMilliseconds);

    private static string NewEpoch() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    private static partial class Log
    {
        [LoggerMessage(EventId = 44, Level = LogLevel.Warning, Message = "Join/leave in {Channel} not delivered: {Error}")]
        public static partial void EventLost(ILogger logger, string channel, string error);

        [LoggerMessage(EventId = 45, Level = LogLevel.Warning, Message = "Subscribing to {Channel} in Redis failed: {Error}")]
        public static partial void SubscribeFailed(ILogger logger, string channel, string error);

        [LoggerMessage(EventId = 46, Level = LogLevel.Warning, Message = "Unsubscribing from {Channel} in Redis failed: {Error}")]
        public static partial void UnsubscribeFailed(ILogger logger, string channel, string error);

        [LoggerMessage(EventId = 47, Level = LogLevel.Error, Message = "A malformed message in {Channel} was dropped")]
        public static partial void BadMessage(ILogger logger, string channel, Exception? error);


        [LoggerMessage(EventId = 48, Level = LogLevel.Warning, Message = "Redis shard {Shard}: {Missing} of {Channels} channels did not show their subscription back in time; their subscribers are told to recover anyway")]
        public static partial void ProbesLost(ILogger logger, int shard, int missing, int channels);

        [LoggerMessage(EventId = 49, Level = LogLevel.Information, Message = "Redis shard {Shard}: pub/sub restored; the subscribers of {Channels} channels resubscribe to recover")]
        public static partial void Resubscribing(ILogger logger, int shard, int channels);
    }
}

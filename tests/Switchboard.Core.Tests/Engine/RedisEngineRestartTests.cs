using Microsoft.Extensions.Time.Testing;
using Switchboard.Channels;
using Switchboard.Engine;
using Switchboard.Engine.Redis;
using Switchboard.Protocol;
using Switchboard.Sessions;
using Switchboard.Testing;

namespace Switchboard.Core.Tests.Engine;

/// <summary>
/// The Redis engine across a Redis restart or outage. The servers are this class's own: tests here
/// restart and kill them. Without persistence a restart loses every stream, so streams get new
/// epochs and old positions are refused (112); with an append-only file they carry on. While Redis
/// is away, and until the engine has reconnected, calls answer a temporary error 100
/// (docs/operations.md); no other exception may reach the caller.
/// </summary>
public sealed class RedisEngineRestartTests(RedisServerFixture volatileRedis, AppendOnlyRedisServerFixture durableRedis, TwoRedisServersFixture shards)
    : IClassFixture<RedisServerFixture>, IClassFixture<AppendOnlyRedisServerFixture>, IClassFixture<TwoRedisServersFixture>, IAsyncLifetime
{
    private static readonly PublishOptions History = new()
    {
        HistorySize = 10,
        HistoryTtl = TimeSpan.FromMinutes(1),
        HistoryMetaTtl = TimeSpan.FromHours(1),
    };

    // The reconnect backoff tops out at 5 s; the first attempt after Redis is back may also fail.
    private static readonly TimeSpan ReconnectDeadline = TimeSpan.FromSeconds(15);

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly string _prefix = "sbtest-" + Guid.NewGuid().ToString("N")[..12];
    private readonly List<IAsyncDisposable> _lifetimes = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var lifetime in _lifetimes)
        {
            await lifetime.DisposeAsync();
        }
    }

    [Fact]
    public async Task After_a_restart_without_persistence_a_publish_succeeds_in_a_new_epoch_and_old_positions_are_refused()
    {
        var node = await NodeAsync(volatileRedis.Server);
        var channel = NewChannel();
        await Publish(node.Broker, channel, 1);
        var old = (await Publish(node.Broker, channel, 2)).Position;

        await volatileRedis.Server.RestartAsync();

        var fresh = await RetriedAsync(() => Publish(node.Broker, channel, 3));
        Assert.Equal(1UL, fresh.Position.Offset);
        Assert.NotEqual(old.Epoch, fresh.Position.Epoch);
        var e = await Assert.ThrowsAsync<ProtocolException>(() => node.Broker.HistoryAsync(channel, new HistoryQuery { Since = old, Limit = 10 }, Ct));
        Assert.Equal(ErrorCodes.UnrecoverablePosition, e.Code);
        var page = await node.Broker.HistoryAsync(channel, new HistoryQuery { Limit = 301 }, Ct);
        Assert.False(Recovery.Decide(old.Epoch, old.Offset, page, 300).Recovered);
    }

    [Fact]
    public async Task After_a_restart_with_an_append_only_file_the_stream_keeps_its_epoch_and_publications()
    {
        var node = await NodeAsync(durableRedis.Server);
        var channel = NewChannel();
        var first = await Publish(node.Broker, channel, 1);
        await Publish(node.Broker, channel, 2);

        await durableRedis.Server.RestartAsync();

        var third = await RetriedAsync(() => Publish(node.Broker, channel, 3));
        Assert.Equal(first.Position with { Offset = 3 }, third.Position);
        var page = await node.Broker.HistoryAsync(channel, new HistoryQuery { Since = first.Position, Limit = 301 }, Ct);
        var (recovered, publications) = Recovery.Decide(first.Position.Epoch, 1, page, 300);
        Assert.True(recovered);
        Assert.Equal([2UL, 3], publications.Select(p => p.Offset));
    }

    [Fact]
    public async Task A_node_subscribed_across_a_restart_is_told_its_channels_were_interrupted_and_then_receives_again()
    {
        var publisher = await NodeAsync(volatileRedis.Server);
        var subscriber = await NodeAsync(volatileRedis.Server);
        var channel = NewChannel();
        var quiet = NewChannel();
        await subscriber.Broker.SubscribeAsync(channel, Ct);
        await subscriber.Broker.SubscribeAsync(quiet, Ct);
        await subscriber.Broker.UnsubscribeAsync(quiet, Ct);
        await Publish(publisher.Broker, channel, 1);
        await subscriber.Events.WaitForPublicationsAsync(channel, 1);

        await volatileRedis.Server.RestartAsync();

        await subscriber.Events.WaitForInterruptionAsync(channel);
        // Only channels the node is still subscribed to need their subscribers to recover.
        Assert.Equal(0, subscriber.Events.Interruptions(quiet));
        // The client library restores the subscription by itself, but not necessarily before the
        // interruption is reported (a publication in between reaches the node's subscribers only
        // through the recovery the interruption starts): wait until Redis has it again.
        var deadline = DateTime.UtcNow + ReconnectDeadline;
        while (await SubscribersInRedisAsync(volatileRedis.Server, channel) != 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "the node's subscription was not restored in Redis");
            await Task.Delay(50);
        }
        await RetriedAsync(() => Publish(publisher.Broker, channel, 2));
        var delivered = await subscriber.Events.WaitForPublicationsAsync(channel, 2);
        Assert.Equal(["""{"n":1}""", """{"n":2}"""], delivered.Select(p => Text(p.Data)));
    }

    [Fact]
    public async Task Calls_while_redis_is_down_fail_with_a_temporary_internal_error_and_work_again_once_it_is_back()
    {
        var node = await NodeAsync(volatileRedis.Server);
        var channel = NewChannel();
        await Publish(node.Broker, channel, 1);

        await volatileRedis.Server.KillAsync();
        try
        {
            // All at once: each waits for the client library's timeout before it fails.
            var failing = Task.WhenAll(
                Assert.ThrowsAsync<ProtocolException>(() => Publish(node.Broker, channel, 2)),
                Assert.ThrowsAsync<ProtocolException>(() => node.Broker.HistoryAsync(channel, new HistoryQuery { Limit = 0 }, Ct)),
                Assert.ThrowsAsync<ProtocolException>(() => node.Broker.RemoveHistoryAsync(channel, Ct)),
                Assert.ThrowsAsync<ProtocolException>(() => node.Presence.AddPresenceAsync(channel, new ClientInfo { User = "u", Client = "c" }, TimeSpan.FromMinutes(1), Ct)),
                Assert.ThrowsAsync<ProtocolException>(() => node.Presence.PresenceAsync(channel, Ct)),
                Assert.ThrowsAsync<ProtocolException>(() => node.Presence.PresenceStatsAsync(channel, Ct)));
            // Best effort by design: joins and leaves are not kept, a presence entry expires by itself.
            var bestEffort = Task.WhenAll(
                node.Broker.PublishJoinAsync(channel, new ClientInfo { User = "u", Client = "c" }, Ct),
                node.Broker.PublishLeaveAsync(channel, new ClientInfo { User = "u", Client = "c" }, Ct),
                node.Presence.RemovePresenceAsync(channel, "c", Ct));
            Assert.All(await failing, f =>
            {
                Assert.Equal(ErrorCodes.Internal, f.Code);
                Assert.True(f.Temporary);
            });
            await bestEffort;
        }
        finally
        {
            await volatileRedis.Server.RestartAsync();
        }

        var after = await RetriedAsync(() => Publish(node.Broker, channel, 3));
        Assert.Equal(1UL, after.Position.Offset);
    }

    [Fact]
    public async Task An_engine_started_while_redis_is_down_fails_calls_temporarily_and_works_once_redis_is_up()
    {
        await volatileRedis.Server.KillAsync();
        EngineNode node;
        try
        {
            node = await NodeAsync(volatileRedis.Server);
            var e = await Assert.ThrowsAsync<ProtocolException>(() => Publish(node.Broker, NewChannel(), 1));
            Assert.Equal(ErrorCodes.Internal, e.Code);
            Assert.True(e.Temporary);
        }
        finally
        {
            await volatileRedis.Server.RestartAsync();
        }
        var channel = NewChannel();
        await RetriedAsync(() => node.Broker.SubscribeAsync(channel, Ct));
        Assert.Equal(1UL, (await Publish(node.Broker, channel, 1)).Position.Offset);
        await node.Events.WaitForPublicationsAsync(channel, 1);
    }

    [Fact]
    public async Task A_subscribe_that_failed_while_redis_was_down_leaves_no_subscription_in_redis_once_the_channel_is_unsubscribed()
    {
        var node = await NodeAsync(volatileRedis.Server);
        var channel = NewChannel();
        await volatileRedis.Server.KillAsync();
        try
        {
            var e = await Assert.ThrowsAsync<ProtocolException>(() => node.Broker.SubscribeAsync(channel, Ct));
            Assert.Equal(ErrorCodes.Internal, e.Code);
            Assert.True(e.Temporary);
        }
        finally
        {
            await volatileRedis.Server.RestartAsync();
        }
        // The hub subscribes again for the channel's next subscriber, and unsubscribes when it leaves.
        await RetriedAsync(() => node.Broker.SubscribeAsync(channel, Ct));
        await node.Broker.UnsubscribeAsync(channel, Ct);

        // Nobody in Redis listens to the channel any more (else Redis keeps sending its
        // publications to a node that drops or, worse, buffers them).
        Assert.Equal(0L, await SubscribersInRedisAsync(volatileRedis.Server, channel));
    }

    [Fact]
    public async Task An_unsubscribe_while_redis_was_down_leaves_no_subscription_in_redis_once_it_is_back()
    {
        var node = await NodeAsync(volatileRedis.Server);
        var left = NewChannel();
        var kept = NewChannel();
        await node.Broker.SubscribeAsync(left, Ct);
        await node.Broker.SubscribeAsync(kept, Ct);
        await volatileRedis.Server.KillAsync();
        try
        {
            // The last subscriber left during the outage; the hub does not retry an unsubscribe.
            await node.Broker.UnsubscribeAsync(left, Ct);
        }
        finally
        {
            await volatileRedis.Server.RestartAsync();
        }
        // Pub/sub is back (and its subscriptions restored) once the kept channel is reported interrupted.
        await node.Events.WaitForInterruptionAsync(kept);
        Assert.Equal(0, node.Events.Interruptions(left));
        Assert.Equal(0L, await SubscribersInRedisAsync(volatileRedis.Server, left));
        Assert.Equal(1L, await SubscribersInRedisAsync(volatileRedis.Server, kept));
    }

    [Fact]
    public async Task Restarting_one_shard_interrupts_only_the_channels_kept_on_that_shard()
    {
        var node = await NodeAsync([.. shards.Servers.Select(s => s.Address)]);
        // Random names: draw until both shards hold some (8 names all on one shard happen 1 time in 128).
        var channels = Enumerable.Range(0, 8).Select(_ => NewChannel()).ToList();
        while (channels.All(c => JumpHash.Bucket(c, 2) == JumpHash.Bucket(channels[0], 2)))
        {
            channels.Add(NewChannel());
        }
        foreach (var channel in channels)
        {
            await node.Broker.SubscribeAsync(channel, Ct);
        }
        var onFirst = channels.Where(c => JumpHash.Bucket(c, 2) == 0).ToList();
        var onSecond = channels.Except(onFirst).ToList();
        Assert.NotEmpty(onFirst);
        Assert.NotEmpty(onSecond);

        await shards.Servers[0].RestartAsync();

        foreach (var channel in onFirst)
        {
            await node.Events.WaitForInterruptionAsync(channel);
        }
        Assert.All(onSecond, c => Assert.Equal(0, node.Events.Interruptions(c)));
        foreach (var channel in channels)
        {
            await RetriedAsync(() => Publish(node.Broker, channel, 1));
            Assert.Single(await node.Events.WaitForPublicationsAsync(channel, 1));
        }
    }

    /// <summary>
    /// Calls as a client does after an outage: a temporary error 100 (the documented answer until
    /// the engine's connection is back, 250 ms to 5 s of backoff after Redis) is retried; any
    /// other failure fails the test.
    /// </summary>
    private static async Task<T> RetriedAsync<T>(Func<Task<T>> call)
    {
        var deadline = DateTime.UtcNow + ReconnectDeadline;
        while (true)
        {
            try
            {
                return await call();
            }
            catch (ProtocolException e) when (e.Code == ErrorCodes.Internal && e.Temporary && DateTime.UtcNow < deadline)
            {
                // A client's retry pause; the engine offers no event to await its reconnection.
                await Task.Delay(100);
            }
        }
    }

    private static Task RetriedAsync(Func<Task> call) => RetriedAsync(async () =>
    {
        await call();
        return true;
    });

    /// <summary>How many connections Redis delivers the channel's pub/sub messages to (the engine names it <c>prefix.channel.{channel}</c>).</summary>
    private async Task<long> SubscribersInRedisAsync(RedisServer server, string channel)
        => (long)((object?[])(await server.CommandAsync("PUBSUB", "NUMSUB", $"{_prefix}.channel.{{{channel}}}"))!)[1]!;

    private Task<EngineNode> NodeAsync(RedisServer server) => NodeAsync([server.Address]);

    private async Task<EngineNode> NodeAsync(List<string> addresses)
    {
        var parts = await RedisEngines.ConnectAsync(new RedisOptions { Addresses = addresses, Prefix = _prefix }, _time);
        _lifetimes.Add(parts.Lifetime);
        var handler = new CollectingHandler();
        parts.Broker.RegisterEventHandler(handler);
        return new EngineNode(parts.Broker, parts.Presence, handler);
    }

    private static CancellationToken Ct => CancellationToken.None;

    private static string NewChannel() => "restart-" + Guid.NewGuid().ToString("N");

    private static Task<PublishOutcome> Publish(IBroker broker, string channel, int n)
        => broker.PublishAsync(channel, new Publication { Data = RawJson.Parse($$"""{"n":{{n}}}""") }, History, Ct);

    private static string Text(RawJson json) => System.Text.Encoding.UTF8.GetString(json.Utf8.Span);
}

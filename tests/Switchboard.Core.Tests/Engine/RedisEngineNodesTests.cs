using Microsoft.Extensions.Time.Testing;
using Switchboard.Channels;
using Switchboard.Engine;
using Switchboard.Protocol;
using Switchboard.Testing;

namespace Switchboard.Core.Tests.Engine;

/// <summary>
/// Two nodes of one installation on one Redis: what one node publishes, writes or reads, the other
/// sees. Each test has its own key prefix, so the shared server holds no state between tests.
/// </summary>
public sealed class RedisEngineNodesTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private static readonly PublishOptions History = new()
    {
        HistorySize = 10,
        HistoryTtl = TimeSpan.FromMinutes(1),
        HistoryMetaTtl = TimeSpan.FromHours(1),
    };

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly string _prefix = "sbtest-" + Guid.NewGuid().ToString("N")[..12];
    private readonly List<IAsyncDisposable> _lifetimes = [];
    private EngineNode? _a;
    private EngineNode? _b;

    private EngineNode A => _a!;

    private EngineNode B => _b!;

    public async Task InitializeAsync()
    {
        _a = await NodeAsync(_prefix);
        _b = await NodeAsync(_prefix);
    }

    public async Task DisposeAsync()
    {
        foreach (var lifetime in _lifetimes)
        {
            await lifetime.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_publication_through_one_node_reaches_the_other_subscribed_node()
    {
        var channel = NewChannel();
        await B.Broker.SubscribeAsync(channel, Ct);
        for (var n = 1; n <= 3; n++)
        {
            await Publish(A.Broker, channel, n);
        }
        var delivered = await B.Events.WaitForPublicationsAsync(channel, 3);
        Assert.Equal([1UL, 2, 3], delivered.Select(p => p.Offset));
        Assert.Equal(["""{"n":1}""", """{"n":2}""", """{"n":3}"""], delivered.Select(p => Text(p.Data)));
    }

    [Fact]
    public async Task Nodes_publishing_at_once_are_seen_by_every_subscribed_node_in_one_offset_order()
    {
        var channel = NewChannel();
        await A.Broker.SubscribeAsync(channel, Ct);
        await B.Broker.SubscribeAsync(channel, Ct);
        await Task.WhenAll(Enumerable.Range(1, 20).Select(n => Task.Run(() => Publish(n % 2 == 0 ? A.Broker : B.Broker, channel, n))));
        var onA = await A.Events.WaitForPublicationsAsync(channel, 20);
        var onB = await B.Events.WaitForPublicationsAsync(channel, 20);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (ulong)i), onA.Select(p => p.Offset));
        Assert.Equal(onA.Select(p => Text(p.Data)), onB.Select(p => Text(p.Data)));
    }

    [Fact]
    public async Task A_node_that_unsubscribed_misses_what_is_published_until_it_subscribes_again()
    {
        var channel = NewChannel();
        await B.Broker.SubscribeAsync(channel, Ct);
        await Publish(A.Broker, channel, 1);
        await B.Events.WaitForPublicationsAsync(channel, 1);
        await B.Broker.UnsubscribeAsync(channel, Ct);
        await Publish(A.Broker, channel, 2);
        await B.Broker.SubscribeAsync(channel, Ct);
        await Publish(A.Broker, channel, 3);
        // Had 2 reached B, it would have arrived before 3 (one pub/sub channel keeps order).
        Assert.Equal([1UL, 3], (await B.Events.WaitForPublicationsAsync(channel, 2)).Select(p => p.Offset));
    }

    [Fact]
    public async Task A_node_that_unsubscribed_is_no_longer_listening_in_redis()
    {
        var channel = NewChannel();
        var pubSubName = $"{_prefix}.channel.{{{channel}}}";
        await B.Broker.SubscribeAsync(channel, Ct);
        Assert.Equal(1L, ((object?[])(await redis.Server.CommandAsync("PUBSUB", "NUMSUB", pubSubName))!)[1]);
        await B.Broker.UnsubscribeAsync(channel, Ct);
        Assert.Equal(0L, ((object?[])(await redis.Server.CommandAsync("PUBSUB", "NUMSUB", pubSubName))!)[1]);
    }

    [Fact]
    public async Task Joins_and_leaves_through_one_node_reach_the_other()
    {
        var channel = NewChannel();
        await B.Broker.SubscribeAsync(channel, Ct);
        var alice = new ClientInfo { User = "alice", Client = "c1" };
        await A.Broker.PublishJoinAsync(channel, alice, Ct);
        await A.Broker.PublishLeaveAsync(channel, alice, Ct);
        var events = await B.Events.WaitForEventsAsync(channel, 2);
        Assert.Equal([BrokerEventKind.Join, BrokerEventKind.Leave], events.Select(e => e.Kind));
        Assert.All(events, e => Assert.Equal("c1", e.Info!.Client));
    }

    [Fact]
    public async Task Presence_written_by_one_node_is_read_by_the_other()
    {
        var channel = NewChannel();
        await A.Presence.AddPresenceAsync(channel, new ClientInfo { User = "alice", Client = "a1" }, TimeSpan.FromMinutes(1), Ct);
        await B.Presence.AddPresenceAsync(channel, new ClientInfo { User = "bob", Client = "b1" }, TimeSpan.FromMinutes(1), Ct);
        Assert.Equal(["a1", "b1"], (await B.Presence.PresenceAsync(channel, Ct)).Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new PresenceStats(2, 2), await A.Presence.PresenceStatsAsync(channel, Ct));
        await B.Presence.RemovePresenceAsync(channel, "a1", Ct);
        Assert.Equal(["b1"], (await A.Presence.PresenceAsync(channel, Ct)).Keys);
    }

    [Fact]
    public async Task History_and_positions_are_shared_by_the_nodes()
    {
        var channel = NewChannel();
        await Publish(A.Broker, channel, 1);
        var second = await Publish(A.Broker, channel, 2);
        var page = await B.Broker.HistoryAsync(channel, new HistoryQuery { Limit = -1 }, Ct);
        Assert.Equal(second.Position, page.Position);
        Assert.Equal([1UL, 2], page.Publications.Select(p => p.Offset));
        var third = await Publish(B.Broker, channel, 3);
        Assert.Equal(second.Position with { Offset = 3 }, third.Position);
    }

    [Fact]
    public async Task An_idempotency_key_used_through_one_node_suppresses_its_repeat_through_the_other()
    {
        var channel = NewChannel();
        var keyed = History with { IdempotencyKey = "order-1" };
        var first = await Publish(A.Broker, channel, 1, keyed);
        var repeat = await Publish(B.Broker, channel, 2, keyed);
        Assert.True(repeat.Suppressed);
        Assert.Equal(first.Position, repeat.Position);
    }

    [Fact]
    public async Task Installations_with_different_prefixes_on_one_redis_do_not_see_each_other()
    {
        var other = await NodeAsync("sbtest-" + Guid.NewGuid().ToString("N")[..12]);
        var channel = NewChannel();
        await other.Broker.SubscribeAsync(channel, Ct);
        var published = await Publish(A.Broker, channel, 1);
        await A.Presence.AddPresenceAsync(channel, new ClientInfo { User = "alice", Client = "a1" }, TimeSpan.FromMinutes(1), Ct);

        var page = await other.Broker.HistoryAsync(channel, new HistoryQuery { Limit = -1 }, Ct);
        Assert.Empty(page.Publications);
        Assert.Equal(0UL, page.Position.Offset);
        Assert.NotEqual(published.Position.Epoch, page.Position.Epoch);
        Assert.Empty(await other.Presence.PresenceAsync(channel, Ct));
        // Its own publication arrives; had the first installation's reached it, that would have come first.
        await Publish(other.Broker, channel, 2);
        Assert.Equal(["""{"n":2}"""], (await other.Events.WaitForPublicationsAsync(channel, 1)).Select(p => Text(p.Data)));
    }

    private async Task<EngineNode> NodeAsync(string prefix)
    {
        var parts = await RedisEngines.ConnectAsync(new RedisOptions { Addresses = [redis.Server.Address], Prefix = prefix }, _time);
        _lifetimes.Add(parts.Lifetime);
        var handler = new CollectingHandler();
        parts.Broker.RegisterEventHandler(handler);
        return new EngineNode(parts.Broker, parts.Presence, handler);
    }

    private static CancellationToken Ct => CancellationToken.None;

    private static string NewChannel() => "nodes-" + Guid.NewGuid().ToString("N");

    private static Task<PublishOutcome> Publish(IBroker broker, string channel, int n, PublishOptions? options = null)
        => broker.PublishAsync(channel, new Publication { Data = RawJson.Parse($$"""{"n":{{n}}}""") }, options ?? History, Ct);

    private static string Text(RawJson json) => System.Text.Encoding.UTF8.GetString(json.Utf8.Span);
}

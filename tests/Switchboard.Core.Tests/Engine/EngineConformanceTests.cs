using System.Text;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Engine;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Core.Tests.Engine;

/// <summary>What an engine factory returns: one node's broker and presence, and what to dispose.</summary>
public sealed record EngineParts(IBroker Broker, IPresenceManager Presence, IAsyncDisposable Lifetime);

/// <summary>One node's view of an engine, with the handler that records what the broker delivered to it.</summary>
public sealed record EngineNode(IBroker Broker, IPresenceManager Presence, CollectingHandler Events);

/// <summary>
/// What every engine (memory, Redis, sharded Redis, Redis Cluster) must do, as a user of
/// <see cref="IBroker"/> and <see cref="IPresenceManager"/> observes it. A subclass supplies the
/// engine; every time-dependent expiry is driven by the fake clock the engine is given, never by
/// sleeping. Delivery may be asynchronous: a test subscribes before it publishes and awaits the
/// deliveries it expects.
/// </summary>
public abstract class EngineConformanceTests : IAsyncLifetime
{
    private static readonly TimeSpan HistoryTtl = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan MetaTtl = TimeSpan.FromHours(1);
    private readonly List<IAsyncDisposable> _lifetimes = [];
    private EngineNode? _node;

    /// <summary>The clock every node of the test runs on; starts at the real time (Redis keeps absolute stamps).</summary>
    protected FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    /// <summary>A key prefix no other test uses, for engines that share a server between tests.</summary>
    protected string Prefix { get; } = "sbtest-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>The test's first node.</summary>
    protected EngineNode Node => _node ?? throw new InvalidOperationException("Not initialized.");

    private IBroker Broker => Node.Broker;

    private IPresenceManager Presence => Node.Presence;

    private CollectingHandler Events => Node.Events;

    /// <summary>Creates one node's engine on <paramref name="time"/>.</summary>
    protected abstract Task<EngineParts> CreateEngineAsync(FakeTimeProvider time);

    /// <summary>Creates another node's engine (on the same clock) with its own collecting handler.</summary>
    protected async Task<EngineNode> StartNodeAsync()
    {
        var parts = await CreateEngineAsync(Time);
        _lifetimes.Add(parts.Lifetime);
        var handler = new CollectingHandler();
        parts.Broker.RegisterEventHandler(handler);
        return new EngineNode(parts.Broker, parts.Presence, handler);
    }

    public async Task InitializeAsync() => _node = await StartNodeAsync();

    public async Task DisposeAsync()
    {
        foreach (var lifetime in _lifetimes)
        {
            await lifetime.DisposeAsync();
        }
    }

    // ---- publish and delivery ----

    [Fact]
    public async Task A_subscribed_node_receives_publications_in_publish_order()
    {
        var channel = NewChannel();
        await Broker.SubscribeAsync(channel, Ct);
        for (var n = 1; n <= 10; n++)
        {
            await Publish(channel, n);
        }
        var delivered = await Events.WaitForPublicationsAsync(channel, 10);
        Assert.Equal(Enumerable.Range(1, 10), delivered.Select(N));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (ulong)i), delivered.Select(p => p.Offset));
        // The hub compares it with each subscriber's epoch to notice a stream that started over.
        var epoch = (await Read(channel, limit: 0)).Position.Epoch;
        Assert.All(delivered, p => Assert.Equal(epoch, p.Epoch));
    }

    [Fact]
    public async Task Concurrent_publishes_are_delivered_in_offset_order()
    {
        var channel = NewChannel();
        await Broker.SubscribeAsync(channel, Ct);
        var outcomes = await Task.WhenAll(Enumerable.Range(1, 20).Select(n => Task.Run(() => Publish(channel, n))));
        var delivered = await Events.WaitForPublicationsAsync(channel, 20);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (ulong)i), outcomes.Select(o => o.Position.Offset).Order());
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (ulong)i), delivered.Select(p => p.Offset));
        // Each delivered publication is the one its publish was told it got.
        var offsetOf = outcomes.Select((o, i) => (N: i + 1, o.Position.Offset)).ToDictionary(x => x.N, x => x.Offset);
        Assert.All(delivered, p => Assert.Equal(offsetOf[N(p)], p.Offset));
    }

    [Fact]
    public async Task A_publication_is_delivered_and_kept_with_its_data_info_tags_and_time()
    {
        var channel = NewChannel();
        await Broker.SubscribeAsync(channel, Ct);
        var publication = new Publication
        {
            Data = RawJson.Parse("""{"text":"héllo \"quoted\"\n","list":[1,2.5,null,true]}"""),
            Info = new ClientInfo
            {
                User = "alice",
                Client = "client-1",
                ConnInfo = RawJson.Parse("""{"name":"Alice"}"""),
                ChanInfo = RawJson.Parse("""{"role":"admin"}"""),
            },
            Tags = new Dictionary<string, string> { ["kind"] = "greeting", ["lang"] = "fr" },
            Time = 1_767_225_600_123,
        };
        await Broker.PublishAsync(channel, publication, History(), Ct);

        var delivered = Assert.Single(await Events.WaitForPublicationsAsync(channel, 1));
        var kept = Assert.Single((await Read(channel)).Publications);
        foreach (var p in new[] { delivered, kept })
        {
            Assert.Equal(Text(publication.Data), Text(p.Data));
            Assert.Equal(1UL, p.Offset);
            Assert.Equal(publication.Time, p.Time);
            Assert.Equal(publication.Tags, p.Tags);
            Assert.NotNull(p.Info);
            Assert.Equal("alice", p.Info.User);
            Assert.Equal("client-1", p.Info.Client);
            Assert.Equal("""{"name":"Alice"}""", Text(p.Info.ConnInfo));
            Assert.Equal("""{"role":"admin"}""", Text(p.Info.ChanInfo));
        }
    }

    [Fact]
    public async Task Publications_without_history_are_delivered_with_offset_zero_and_not_kept()
    {
        var channel = NewChannel();
        await Broker.SubscribeAsync(channel, Ct);
        var outcome = await Publish(channel, 1, new PublishOptions());
        var delivered = Assert.Single(await Events.WaitForPublicationsAsync(channel, 1));
        Assert.Equal(0UL, outcome.Position.Offset);
        Assert.False(outcome.Suppressed);
        Assert.Equal(0UL, delivered.Offset);
        Assert.Equal(1, N(delivered));
        var page = await Read(channel);
        Assert.Empty(page.Publications);
        Assert.Equal(0UL, page.Position.Offset);
    }

    [Fact]
    public async Task Publications_with_a_history_size_but_no_history_ttl_are_not_kept()
    {
        var channel = NewChannel();
        var outcome = await Publish(channel, 1, new PublishOptions { HistorySize = 10, HistoryMetaTtl = MetaTtl });
        Assert.Equal(0UL, outcome.Position.Offset);
        var page = await Read(channel);
        Assert.Empty(page.Publications);
        Assert.Equal(0UL, page.Position.Offset);
    }

    [Fact]
    public async Task Joins_and_leaves_reach_the_subscribed_node_in_order_with_publications()
    {
        var channel = NewChannel();
        await Broker.SubscribeAsync(channel, Ct);
        var alice = new ClientInfo { User = "alice", Client = "c1", ConnInfo = RawJson.Parse("""{"a":1}""") };
        await Broker.PublishJoinAsync(channel, alice, Ct);
        await Publish(channel, 1);
        await Broker.PublishLeaveAsync(channel, alice, Ct);

        var events = await Events.WaitForEventsAsync(channel, 3);
        Assert.Equal([BrokerEventKind.Join, BrokerEventKind.Publication, BrokerEventKind.Leave], events.Select(e => e.Kind));
        foreach (var info in new[] { events[0].Info!, events[2].Info! })
        {
            Assert.Equal("alice", info.User);
            Assert.Equal("c1", info.Client);
            Assert.Equal("""{"a":1}""", Text(info.ConnInfo));
        }
    }

    // ---- stream positions ----

    [Fact]
    public async Task A_new_stream_numbers_publications_from_one_without_gaps_in_one_epoch()
    {
        var channel = NewChannel();
        var outcomes = new List<PublishOutcome>();
        for (var n = 1; n <= 5; n++)
        {
            outcomes.Add(await Publish(channel, n));
        }
        Assert.Equal([1UL, 2, 3, 4, 5], outcomes.Select(o => o.Position.Offset));
        Assert.All(outcomes, o => Assert.False(o.Suppressed));
        var epoch = outcomes[0].Position.Epoch;
        Assert.False(string.IsNullOrEmpty(epoch));
        Assert.All(outcomes, o => Assert.Equal(epoch, o.Position.Epoch));
    }

    [Fact]
    public async Task A_position_only_read_reports_the_position_the_last_publish_returned()
    {
        var channel = NewChannel();
        PublishOutcome last = null!;
        for (var n = 1; n <= 3; n++)
        {
            last = await Publish(channel, n);
        }
        var page = await Read(channel, limit: 0);
        Assert.Empty(page.Publications);
        Assert.Equal(last.Position, page.Position);
        Assert.Equal(3UL, page.Position.Offset);
    }

    [Fact]
    public async Task Streams_of_different_channels_are_numbered_independently()
    {
        var a = NewChannel();
        var b = NewChannel();
        await Publish(a, 1);
        await Publish(a, 2);
        var first = await Publish(b, 1);
        Assert.Equal(1UL, first.Position.Offset);
        Assert.Equal(2UL, (await Read(a, limit: 0)).Position.Offset);
    }

    [Fact]
    public async Task Reading_a_channel_never_published_to_gives_a_stable_epoch_that_the_first_publish_keeps()
    {
        var channel = NewChannel();
        var before = (await Read(channel, limit: 0)).Position;
        Assert.Equal(0UL, before.Offset);
        Assert.False(string.IsNullOrEmpty(before.Epoch));
        Time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(before, (await Read(channel, limit: 0)).Position);
        var published = await Publish(channel, 1);
        Assert.Equal(new StreamPosition { Epoch = before.Epoch, Offset = 1 }, published.Position);
    }

    // ---- history window ----

    [Fact]
    public async Task History_keeps_only_the_newest_publications_up_to_its_size()
    {
        var channel = NewChannel();
        for (var n = 1; n <= 5; n++)
        {
            await Publish(channel, n, History(size: 3));
        }
        var page = await Read(channel);
        Assert.Equal([3UL, 4, 5], page.Publications.Select(p => p.Offset));
        Assert.Equal([3, 4, 5], page.Publications.Select(N));
        Assert.Equal(5UL, page.Position.Offset);
    }

    [Fact]
    public async Task History_limit_returns_the_oldest_first_and_a_negative_limit_returns_all()
    {
        var channel = NewChannel();
        await PublishMany(channel, 5);
        Assert.Equal([1UL, 2], (await Read(channel, limit: 2)).Publications.Select(p => p.Offset));
        Assert.Equal([1UL, 2, 3, 4, 5], (await Read(channel, limit: -1)).Publications.Select(p => p.Offset));
        Assert.Equal([1UL, 2, 3, 4, 5], (await Read(channel, limit: 100)).Publications.Select(p => p.Offset));
        var positionOnly = await Read(channel, limit: 0);
        Assert.Empty(positionOnly.Publications);
        Assert.Equal(5UL, positionOnly.Position.Offset);
    }

    [Fact]
    public async Task History_since_a_position_pages_forward()
    {
        var channel = NewChannel();
        var epoch = (await PublishMany(channel, 5)).Epoch;
        Assert.Equal([3UL, 4], (await Read(channel, limit: 2, since: At(epoch, 2))).Publications.Select(p => p.Offset));
        Assert.Equal([5UL], (await Read(channel, limit: 2, since: At(epoch, 4))).Publications.Select(p => p.Offset));
        Assert.Empty((await Read(channel, limit: 2, since: At(epoch, 5))).Publications);
        var all = await Read(channel, since: At(epoch, 0));
        Assert.Equal([1UL, 2, 3, 4, 5], all.Publications.Select(p => p.Offset));
        Assert.Equal(At(epoch, 5), all.Position);
    }

    [Fact]
    public async Task History_reversed_pages_backward_from_the_newest_or_from_a_position()
    {
        var channel = NewChannel();
        var epoch = (await PublishMany(channel, 5)).Epoch;
        Assert.Equal([5UL, 4], (await Read(channel, limit: 2, reverse: true)).Publications.Select(p => p.Offset));
        Assert.Equal([5UL, 4, 3, 2, 1], (await Read(channel, limit: -1, reverse: true)).Publications.Select(p => p.Offset));
        Assert.Equal([3UL, 2], (await Read(channel, limit: 2, since: At(epoch, 4), reverse: true)).Publications.Select(p => p.Offset));
        Assert.Equal([1UL], (await Read(channel, limit: 2, since: At(epoch, 2), reverse: true)).Publications.Select(p => p.Offset));
        Assert.Empty((await Read(channel, limit: 2, since: At(epoch, 1), reverse: true)).Publications);
    }

    [Fact]
    public async Task History_since_another_epoch_is_an_unrecoverable_position()
    {
        var channel = NewChannel();
        await PublishMany(channel, 2);
        var e = await Assert.ThrowsAsync<ProtocolException>(() => Read(channel, since: At("not-the-epoch", 1)));
        Assert.Equal(ErrorCodes.UnrecoverablePosition, e.Code);
    }

    // ---- expiry (fake time) ----

    [Fact]
    public async Task Publications_leave_history_after_the_history_ttl_while_the_position_stays()
    {
        var channel = NewChannel();
        var first = await Publish(channel, 1);
        Time.Advance(TimeSpan.FromSeconds(30));
        await Publish(channel, 2);
        Time.Advance(TimeSpan.FromSeconds(31));
        var page = await Read(channel);
        Assert.Equal([2UL], page.Publications.Select(p => p.Offset));
        Assert.Equal(At(first.Position.Epoch, 2), page.Position);

        Time.Advance(TimeSpan.FromSeconds(30));
        page = await Read(channel);
        Assert.Empty(page.Publications);
        Assert.Equal(At(first.Position.Epoch, 2), page.Position);
        Assert.Equal(At(first.Position.Epoch, 3), (await Publish(channel, 3)).Position);
    }

    [Fact]
    public async Task A_stream_idle_past_its_meta_ttl_starts_over_with_a_new_epoch()
    {
        var channel = NewChannel();
        var old = await PublishMany(channel, 2);
        Time.Advance(MetaTtl + TimeSpan.FromSeconds(1));

        var e = await Assert.ThrowsAsync<ProtocolException>(() => Read(channel, since: old));
        Assert.Equal(ErrorCodes.UnrecoverablePosition, e.Code);
        var restarted = await Publish(channel, 3);
        Assert.Equal(1UL, restarted.Position.Offset);
        Assert.NotEqual(old.Epoch, restarted.Position.Epoch);
        var page = await Read(channel);
        Assert.Equal([3], page.Publications.Select(N));
        Assert.Equal(restarted.Position, page.Position);
    }

    [Fact]
    public async Task A_publication_into_a_stream_that_started_over_is_delivered_with_the_new_epoch()
    {
        var channel = NewChannel();
        await Broker.SubscribeAsync(channel, Ct);
        var old = await Publish(channel, 1);
        Time.Advance(MetaTtl + TimeSpan.FromSeconds(1));
        var restarted = await Publish(channel, 2);
        var delivered = await Events.WaitForPublicationsAsync(channel, 2);
        Assert.Equal([(old.Position.Epoch, 1UL), (restarted.Position.Epoch, 1UL)], delivered.Select(p => (p.Epoch, p.Offset)));
        Assert.NotEqual(old.Position.Epoch, restarted.Position.Epoch);
    }

    [Fact]
    public async Task Each_publish_extends_the_meta_ttl()
    {
        var channel = NewChannel();
        var first = await Publish(channel, 1);
        Time.Advance(MetaTtl * 0.75);
        await Publish(channel, 2);
        Time.Advance(MetaTtl * 0.75);
        var third = await Publish(channel, 3);
        Assert.Equal(At(first.Position.Epoch, 3), third.Position);
    }

    [Fact]
    public async Task Removing_history_keeps_the_epoch_and_top_offset()
    {
        var channel = NewChannel();
        var top = await PublishMany(channel, 3);
        await Broker.RemoveHistoryAsync(channel, Ct);
        var page = await Read(channel);
        Assert.Empty(page.Publications);
        Assert.Equal(top, page.Position);
        Assert.Equal(At(top.Epoch, 4), (await Publish(channel, 4)).Position);
        Assert.Equal([4], (await Read(channel)).Publications.Select(N));
    }

    [Fact]
    public async Task Removing_the_history_of_a_channel_that_has_none_changes_nothing()
    {
        var channel = NewChannel();
        await Broker.RemoveHistoryAsync(channel, Ct);
        var published = await Publish(channel, 1);
        Assert.Equal(1UL, published.Position.Offset);
    }

    // ---- idempotency ----

    [Fact]
    public async Task A_repeated_idempotency_key_publishes_once_and_returns_the_first_position()
    {
        var channel = NewChannel();
        await Broker.SubscribeAsync(channel, Ct);
        var keyed = History() with { IdempotencyKey = "order-17", IdempotentResultTtl = TimeSpan.FromMinutes(5) };
        var first = await Publish(channel, 1, keyed);
        Time.Advance(TimeSpan.FromSeconds(30));
        var repeat = await Publish(channel, 2, keyed);
        var next = await Publish(channel, 3);

        Assert.False(first.Suppressed);
        Assert.True(repeat.Suppressed);
        Assert.Equal(first.Position, repeat.Position);
        Assert.Equal(At(first.Position.Epoch, 2), next.Position);
        // The publish after the repeat arrives second: the repeat delivered nothing before it.
        var delivered = await Events.WaitForPublicationsAsync(channel, 2);
        Assert.Equal([1, 3], delivered.Select(N));
        Assert.Equal([1, 3], (await Read(channel)).Publications.Select(N));
    }

    [Fact]
    public async Task An_idempotency_key_is_forgotten_after_its_result_ttl()
    {
        var channel = NewChannel();
        await Broker.SubscribeAsync(channel, Ct);
        var keyed = History() with { IdempotencyKey = "order-17", IdempotentResultTtl = TimeSpan.FromMinutes(5) };
        await Publish(channel, 1, keyed);
        Time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
        var again = await Publish(channel, 2, keyed);
        Assert.False(again.Suppressed);
        Assert.Equal(2UL, again.Position.Offset);
        Assert.Equal([1, 2], (await Events.WaitForPublicationsAsync(channel, 2)).Select(N));
    }

    [Fact]
    public async Task The_same_idempotency_key_on_another_channel_publishes_there()
    {
        var a = NewChannel();
        var b = NewChannel();
        await Broker.SubscribeAsync(b, Ct);
        var keyed = History() with { IdempotencyKey = "shared-key" };
        var onA = await Publish(a, 1, keyed);
        var onB = await Publish(b, 2, keyed);
        Assert.False(onA.Suppressed);
        Assert.False(onB.Suppressed);
        Assert.Equal(1UL, onB.Position.Offset);
        Assert.Equal([2], (await Events.WaitForPublicationsAsync(b, 1)).Select(N));
    }

    [Fact]
    public async Task Idempotency_keys_stay_per_channel_whatever_characters_channel_names_and_keys_hold()
    {
        // Pairs where channel + key and other channel + other key spell the same text: ("c}.x", "k")
        // and ("c", "x}.k"). Several pairs, so an engine that spreads channels over shards puts
        // some pair on one shard.
        for (var i = 0; i < 20; i++)
        {
            var channel = NewChannel();
            var longer = await Publish(channel + "}.x", 1, History() with { IdempotencyKey = "k" });
            var shorter = await Publish(channel, 2, History() with { IdempotencyKey = "x}.k" });
            Assert.False(longer.Suppressed);
            Assert.False(shorter.Suppressed);
            Assert.Equal(1UL, shorter.Position.Offset);
            Assert.Equal([2], (await Read(channel)).Publications.Select(N));
        }
    }

    [Fact]
    public async Task A_repeated_idempotency_key_without_history_is_delivered_once()
    {
        var channel = NewChannel();
        await Broker.SubscribeAsync(channel, Ct);
        var keyed = new PublishOptions { IdempotencyKey = "k" };
        var first = await Publish(channel, 1, keyed);
        var repeat = await Publish(channel, 2, keyed);
        await Publish(channel, 3, new PublishOptions());
        Assert.False(first.Suppressed);
        Assert.True(repeat.Suppressed);
        Assert.Equal([1, 3], (await Events.WaitForPublicationsAsync(channel, 2)).Select(N));
    }

    // ---- recovery on real history pages ----

    [Fact]
    public async Task A_client_that_missed_nothing_recovers_with_no_publications()
    {
        var channel = NewChannel();
        var top = await PublishMany(channel, 3);
        var (recovered, publications) = await Recover(channel, top);
        Assert.True(recovered);
        Assert.Empty(publications);
    }

    [Fact]
    public async Task A_client_that_missed_publications_within_the_window_recovers_all_of_them_in_order()
    {
        var channel = NewChannel();
        var epoch = (await PublishMany(channel, 6, History(size: 5))).Epoch;
        var (recovered, publications) = await Recover(channel, At(epoch, 2));
        Assert.True(recovered);
        Assert.Equal([3UL, 4, 5, 6], publications.Select(p => p.Offset));
        Assert.Equal([3, 4, 5, 6], publications.Select(N));
    }

    [Fact]
    public async Task A_client_that_missed_more_than_the_window_keeps_is_not_recovered()
    {
        var channel = NewChannel();
        var epoch = (await PublishMany(channel, 6, History(size: 3))).Epoch;
        var (recovered, publications) = await Recover(channel, At(epoch, 2));
        Assert.False(recovered);
        Assert.Empty(publications);
    }

    [Fact]
    public async Task A_client_that_missed_more_than_the_recovery_limit_is_not_recovered()
    {
        var channel = NewChannel();
        var epoch = (await PublishMany(channel, 6)).Epoch;
        var (recovered, publications) = await Recover(channel, At(epoch, 2), maxPublications: 3);
        Assert.False(recovered);
        Assert.Empty(publications);
    }

    [Fact]
    public async Task A_client_whose_missed_publications_expired_is_not_recovered()
    {
        var channel = NewChannel();
        var epoch = (await PublishMany(channel, 3)).Epoch;
        Time.Advance(HistoryTtl + TimeSpan.FromSeconds(1));
        var (recovered, publications) = await Recover(channel, At(epoch, 1));
        Assert.False(recovered);
        Assert.Empty(publications);
    }

    [Fact]
    public async Task A_client_from_another_epoch_is_not_recovered()
    {
        var channel = NewChannel();
        await PublishMany(channel, 3);
        var (recovered, publications) = await Recover(channel, At("gone", 1));
        Assert.False(recovered);
        Assert.Empty(publications);
    }

    [Fact]
    public async Task A_client_of_a_stream_lost_to_its_meta_ttl_is_not_recovered()
    {
        var channel = NewChannel();
        var old = await PublishMany(channel, 3);
        Time.Advance(MetaTtl + TimeSpan.FromSeconds(1));
        await PublishMany(channel, 3);
        var (recovered, publications) = await Recover(channel, At(old.Epoch, 1));
        Assert.False(recovered);
        Assert.Empty(publications);
    }

    // ---- presence ----

    [Fact]
    public async Task Presence_lists_each_client_with_its_info()
    {
        var channel = NewChannel();
        var other = NewChannel();
        await Presence.AddPresenceAsync(channel, Client("c1", "alice", """{"n":"A"}"""), TimeSpan.FromMinutes(1), Ct);
        await Presence.AddPresenceAsync(channel, Client("c2", "bob"), TimeSpan.FromMinutes(1), Ct);
        await Presence.AddPresenceAsync(other, Client("c3", "carol"), TimeSpan.FromMinutes(1), Ct);

        var presence = await Presence.PresenceAsync(channel, Ct);
        Assert.Equal(["c1", "c2"], presence.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("alice", presence["c1"].User);
        Assert.Equal("c1", presence["c1"].Client);
        Assert.Equal("""{"n":"A"}""", Text(presence["c1"].ConnInfo));
        Assert.Equal("""{"chan":"c1"}""", Text(presence["c1"].ChanInfo));
        Assert.Equal("bob", presence["c2"].User);
        Assert.Equal(["c3"], (await Presence.PresenceAsync(other, Ct)).Keys);
    }

    [Fact]
    public async Task Presence_of_a_channel_nobody_joined_is_empty()
    {
        var channel = NewChannel();
        Assert.Empty(await Presence.PresenceAsync(channel, Ct));
        Assert.Equal(new PresenceStats(0, 0), await Presence.PresenceStatsAsync(channel, Ct));
    }

    [Fact]
    public async Task Presence_stats_count_clients_and_distinct_users()
    {
        var channel = NewChannel();
        await Presence.AddPresenceAsync(channel, Client("1", "alice"), TimeSpan.FromMinutes(1), Ct);
        await Presence.AddPresenceAsync(channel, Client("2", "alice"), TimeSpan.FromMinutes(1), Ct);
        await Presence.AddPresenceAsync(channel, Client("3", "bob"), TimeSpan.FromMinutes(1), Ct);
        Assert.Equal(new PresenceStats(3, 2), await Presence.PresenceStatsAsync(channel, Ct));
    }

    [Fact]
    public async Task Adding_a_client_again_refreshes_it_without_counting_it_twice()
    {
        var channel = NewChannel();
        await Presence.AddPresenceAsync(channel, Client("1", "alice", """{"v":1}"""), TimeSpan.FromMinutes(1), Ct);
        await Presence.AddPresenceAsync(channel, Client("1", "alice", """{"v":2}"""), TimeSpan.FromMinutes(1), Ct);
        var presence = await Presence.PresenceAsync(channel, Ct);
        Assert.Equal("""{"v":2}""", Text(Assert.Single(presence).Value.ConnInfo));
        Assert.Equal(new PresenceStats(1, 1), await Presence.PresenceStatsAsync(channel, Ct));
    }

    [Fact]
    public async Task A_removed_client_leaves_presence_and_its_stats()
    {
        var channel = NewChannel();
        await Presence.AddPresenceAsync(channel, Client("1", "alice"), TimeSpan.FromMinutes(1), Ct);
        await Presence.AddPresenceAsync(channel, Client("2", "bob"), TimeSpan.FromMinutes(1), Ct);
        await Presence.RemovePresenceAsync(channel, "1", Ct);
        await Presence.RemovePresenceAsync(channel, "never-there", Ct);
        Assert.Equal(["2"], (await Presence.PresenceAsync(channel, Ct)).Keys);
        Assert.Equal(new PresenceStats(1, 1), await Presence.PresenceStatsAsync(channel, Ct));
    }

    [Fact]
    public async Task Presence_expires_after_its_ttl_unless_refreshed()
    {
        var channel = NewChannel();
        await Presence.AddPresenceAsync(channel, Client("1", "alice"), TimeSpan.FromSeconds(60), Ct);
        await Presence.AddPresenceAsync(channel, Client("2", "bob"), TimeSpan.FromSeconds(60), Ct);
        Time.Advance(TimeSpan.FromSeconds(40));
        await Presence.AddPresenceAsync(channel, Client("2", "bob"), TimeSpan.FromSeconds(60), Ct);
        Time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(["2"], (await Presence.PresenceAsync(channel, Ct)).Keys);
        Assert.Equal(new PresenceStats(1, 1), await Presence.PresenceStatsAsync(channel, Ct));
        Time.Advance(TimeSpan.FromSeconds(31));
        Assert.Empty(await Presence.PresenceAsync(channel, Ct));
        Assert.Equal(new PresenceStats(0, 0), await Presence.PresenceStatsAsync(channel, Ct));
    }

    // ---- helpers ----

    protected static CancellationToken Ct => CancellationToken.None;

    /// <summary>A channel name no other test uses.</summary>
    protected static string NewChannel() => "conformance-" + Guid.NewGuid().ToString("N");

    /// <summary>History options: 10 publications for a minute by default, the stream's position for an hour.</summary>
    protected static PublishOptions History(int size = 10) => new()
    {
        HistorySize = size,
        HistoryTtl = HistoryTtl,
        HistoryMetaTtl = MetaTtl,
    };

    protected static StreamPosition At(string epoch, ulong offset) => new() { Epoch = epoch, Offset = offset };

    /// <summary>Publishes <c>{"n": n}</c>.</summary>
    protected Task<PublishOutcome> Publish(string channel, int n, PublishOptions? options = null)
        => Publish(Broker, channel, n, options);

    protected static Task<PublishOutcome> Publish(IBroker broker, string channel, int n, PublishOptions? options = null)
        => broker.PublishAsync(channel, new Publication { Data = RawJson.Parse($$"""{"n":{{n}}}""") }, options ?? History(), Ct);

    /// <summary>Publishes 1..count one after another; returns the last position.</summary>
    protected async Task<StreamPosition> PublishMany(string channel, int count, PublishOptions? options = null)
    {
        PublishOutcome? last = null;
        for (var n = 1; n <= count; n++)
        {
            last = await Publish(channel, n, options);
        }
        return last!.Position;
    }

    protected Task<HistoryPage> Read(string channel, int limit = -1, StreamPosition? since = null, bool reverse = false)
        => Broker.HistoryAsync(channel, new HistoryQuery { Limit = limit, Since = since, Reverse = reverse, MetaTtl = MetaTtl }, Ct);

    /// <summary>Recovers the way a subscribing client does (Client.RecoverAsync): read after its position, decide.</summary>
    private async Task<(bool Recovered, IReadOnlyList<Publication> Publications)> Recover(string channel, StreamPosition client, int maxPublications = 300)
    {
        HistoryPage page;
        try
        {
            page = await Broker.HistoryAsync(channel, new HistoryQuery { Since = client, Limit = maxPublications + 1, MetaTtl = MetaTtl }, Ct);
        }
        catch (ProtocolException e) when (e.Code == ErrorCodes.UnrecoverablePosition)
        {
            page = await Broker.HistoryAsync(channel, new HistoryQuery { Limit = 0, MetaTtl = MetaTtl }, Ct);
        }
        return Recovery.Decide(client.Epoch, client.Offset, page, maxPublications);
    }

    protected static ClientInfo Client(string client, string user, string connInfo = """{"c":0}""") => new()
    {
        Client = client,
        User = user,
        ConnInfo = RawJson.Parse(connInfo),
        ChanInfo = RawJson.Parse($$"""{"chan":"{{client}}"}"""),
    };

    /// <summary>The <c>n</c> of a publication published by <see cref="Publish(string, int, PublishOptions?)"/>.</summary>
    protected static int N(Publication publication)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(publication.Data.Utf8);
        return doc.RootElement.GetProperty("n").GetInt32();
    }

    protected static string Text(RawJson json) => Encoding.UTF8.GetString(json.Utf8.Span);
}

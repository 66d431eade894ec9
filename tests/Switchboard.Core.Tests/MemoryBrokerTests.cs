using Microsoft.Extensions.Time.Testing;
using Switchboard.Engine;
using Switchboard.Protocol;

namespace Switchboard.Core.Tests;

public sealed class MemoryBrokerTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly MemoryBroker _broker;
    private readonly RecordingHandler _handler = new();

    private static readonly PublishOptions History = new()
    {
        HistorySize = 3,
        HistoryTtl = TimeSpan.FromMinutes(1),
        HistoryMetaTtl = TimeSpan.FromHours(1),
    };

    public MemoryBrokerTests()
    {
        _broker = new MemoryBroker(_time);
        _broker.RegisterEventHandler(_handler);
    }

    public void Dispose() => _broker.Dispose();

    private Task<PublishOutcome> Publish(string channel, int n, PublishOptions? options = null)
        => _broker.PublishAsync(channel, new Publication { Data = RawJson.Parse($"{{\"n\":{n}}}") }, options ?? History, CancellationToken.None);

    private Task<HistoryPage> Read(string channel, int limit = -1, StreamPosition? since = null, bool reverse = false)
        => _broker.HistoryAsync(channel, new HistoryQuery { Limit = limit, Since = since, Reverse = reverse }, CancellationToken.None);

    [Fact]
    public async Task Offsets_grow_by_one_within_an_epoch()
    {
        var a = await Publish("c", 1);
        var b = await Publish("c", 2);
        Assert.Equal(1UL, a.Position.Offset);
        Assert.Equal(2UL, b.Position.Offset);
        Assert.Equal(a.Position.Epoch, b.Position.Epoch);
        Assert.Equal([1UL, 2], _handler.Offsets("c"));
    }

    [Fact]
    public async Task History_keeps_only_the_newest_publications_up_to_its_size()
    {
        for (var i = 1; i <= 5; i++)
        {
            await Publish("c", i);
        }
        var page = await Read("c");
        Assert.Equal([3UL, 4, 5], page.Publications.Select(p => p.Offset));
        Assert.Equal(5UL, page.Position.Offset);
    }

    [Fact]
    public async Task Publications_expire_after_the_history_ttl_but_the_position_stays()
    {
        var first = await Publish("c", 1);
        _time.Advance(TimeSpan.FromSeconds(30));
        await Publish("c", 2);
        _time.Advance(TimeSpan.FromSeconds(31));
        var page = await Read("c");
        Assert.Equal([2UL], page.Publications.Select(p => p.Offset));
        Assert.Equal(first.Position.Epoch, page.Position.Epoch);
        Assert.Equal(2UL, page.Position.Offset);
    }

    [Fact]
    public async Task The_epoch_changes_when_the_meta_ttl_passes()
    {
        var first = await Publish("c", 1);
        _time.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        var page = await Read("c", limit: 0);
        Assert.NotEqual(first.Position.Epoch, page.Position.Epoch);
        Assert.Equal(0UL, page.Position.Offset);
    }

    [Fact]
    public async Task The_sweep_drops_streams_past_their_meta_ttl()
    {
        await Publish("c", 1);
        Assert.Equal(1, _broker.StreamCount);
        _time.Advance(TimeSpan.FromHours(2));
        Assert.Equal(0, _broker.StreamCount);
    }

    [Fact]
    public async Task Reading_since_a_position_pages_forward_and_backward()
    {
        for (var i = 1; i <= 3; i++)
        {
            await Publish("c", i);
        }
        var epoch = (await Read("c", 0)).Position.Epoch;
        var forward = await Read("c", limit: 1, since: new StreamPosition { Offset = 1, Epoch = epoch });
        Assert.Equal([2UL], forward.Publications.Select(p => p.Offset));
        var backward = await Read("c", limit: 10, since: new StreamPosition { Offset = 3, Epoch = epoch }, reverse: true);
        Assert.Equal([2UL, 1], backward.Publications.Select(p => p.Offset));
        var newest = await Read("c", limit: 2, reverse: true);
        Assert.Equal([3UL, 2], newest.Publications.Select(p => p.Offset));
    }

    [Fact]
    public async Task Reading_since_another_epoch_is_an_unrecoverable_position()
    {
        await Publish("c", 1);
        var e = await Assert.ThrowsAsync<ProtocolException>(() => Read("c", since: new StreamPosition { Offset = 1, Epoch = "other" }));
        Assert.Equal(ErrorCodes.UnrecoverablePosition, e.Code);
    }

    [Fact]
    public async Task Removing_history_keeps_the_epoch_and_top_offset()
    {
        var published = await Publish("c", 1);
        await _broker.RemoveHistoryAsync("c", CancellationToken.None);
        var page = await Read("c");
        Assert.Empty(page.Publications);
        Assert.Equal(published.Position, page.Position);
    }

    [Fact]
    public async Task A_repeated_idempotency_key_returns_the_first_result_and_publishes_nothing()
    {
        var options = History with { IdempotencyKey = "k1", IdempotentResultTtl = TimeSpan.FromMinutes(5) };
        var first = await Publish("c", 1, options);
        var repeat = await Publish("c", 2, options);
        Assert.Equal(first.Position, repeat.Position);
        Assert.True(repeat.Suppressed);
        Assert.Equal([1UL], _handler.Offsets("c"));
    }

    [Fact]
    public async Task An_idempotency_key_is_forgotten_after_its_ttl()
    {
        var options = History with { IdempotencyKey = "k1", IdempotentResultTtl = TimeSpan.FromMinutes(5) };
        await Publish("c", 1, options);
        _time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
        var again = await Publish("c", 2, options);
        Assert.False(again.Suppressed);
        Assert.Equal(2UL, again.Position.Offset);
    }

    [Fact]
    public async Task Publications_without_history_are_delivered_with_no_offset()
    {
        var outcome = await Publish("c", 1, new PublishOptions());
        Assert.Equal(0UL, outcome.Position.Offset);
        Assert.Equal([0UL], _handler.Offsets("c"));
    }

    private sealed class RecordingHandler : IBrokerEventHandler
    {
        private readonly List<(string Channel, Publication Pub)> _pubs = [];

        public List<ulong> Offsets(string channel) => [.. _pubs.Where(p => p.Channel == channel).Select(p => p.Pub.Offset)];

        public void OnPublication(string channel, Publication publication) => _pubs.Add((channel, publication));

        public void OnJoin(string channel, ClientInfo info)
        {
        }

        public void OnLeave(string channel, ClientInfo info)
        {
        }

        public void OnChannelsInterrupted(IReadOnlyCollection<string> channels)
        {
        }
    }
}

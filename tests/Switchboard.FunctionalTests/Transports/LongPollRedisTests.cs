using System.Net;
using Switchboard.Engine.Redis;

namespace Switchboard.FunctionalTests.Transports;

/// <summary>
/// Long polling on the Redis engine: two in-process nodes (each with its own fake clock) on one
/// real redis-server, polls going to either node with no stickiness.
/// </summary>
public sealed class LongPollRedisTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    private Task<ServerFixture> StartNodeAsync(string prefix, string name)
        => LongPollServers.StartAsync(
            "--Switchboard:Engine=redis",
            $"--Switchboard:Redis:Addresses:0={redis.Server.Address}",
            $"--Switchboard:Redis:Prefix={prefix}",
            $"--Switchboard:NodeName={name}");

    private static string Prefix() => "lp" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task Polls_alternating_between_two_nodes_receive_every_publication_once_and_in_order()
    {
        var prefix = Prefix();
        await using var a = await StartNodeAsync(prefix, "node-a");
        await using var b = await StartNodeAsync(prefix, "node-b");
        var channel = "lp:" + Guid.NewGuid().ToString("N");
        const int total = 2000;
        var poller = new LongPollClient(channel);
        await poller.PollAsync(a.BaseAddress, 0);

        using var done = new CancellationTokenSource();
        var ticking = LongPollServers.TickAsync(done.Token, a.Time, b.Time);
        var publishing = Task.Run(async () =>
        {
            for (var i = 1; i <= total; i++)
            {
                // Publishers, too, reach whichever node.
                await LongPollServers.PublishAsync(i % 2 == 0 ? a : b, channel, $"{{\"n\":{i}}}");
            }
        });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        var polls = 0;
        while (poller.Count < total && DateTime.UtcNow < deadline)
        {
            var node = polls % 2 == 0 ? a : b;
            await poller.PollAsync(node.BaseAddress, polls++ % 3 == 0 ? 0 : 20);
        }
        await publishing;
        await done.CancelAsync();
        await ticking;

        var received = poller.Received[channel];
        Assert.Equal(total, received.Count);
        Assert.Equal(Enumerable.Range(1, total).Select(i => (ulong)i), received.Select(r => r.Offset));
        Assert.Equal(Enumerable.Range(1, total).Select(i => $"{{\"n\":{i}}}"), received.Select(r => r.Data));
        Assert.True(poller.EmptyPolls > 0, "no poll came back empty: the timeouts were not exercised");
        Assert.Empty(a.Errors.Entries);
        Assert.Empty(b.Errors.Entries);
    }

    [Fact]
    public async Task A_waiting_poll_on_one_node_is_woken_by_a_publication_through_another()
    {
        var prefix = Prefix();
        await using var a = await StartNodeAsync(prefix, "node-a");
        await using var b = await StartNodeAsync(prefix, "node-b");
        var channel = "lp:" + Guid.NewGuid().ToString("N");
        var poller = new LongPollClient(channel);
        await poller.PollAsync(a.BaseAddress, 0);
        var broker = (RedisBroker)a.Node.Broker;
        Assert.Equal(0, broker.SubscribedChannelCount);

        var poll = poller.PollAsync(a.BaseAddress, 25_000);
        // Waiting makes node a subscribe to the channel in Redis, like a local subscriber would.
        await Poll.UntilAsync(() => Task.FromResult(a.Node.Hub.Waiters.Has(channel) && broker.SubscribedChannelCount == 1), "the poll waits, subscribed in Redis");
        await LongPollServers.PublishAsync(b, channel, "{\"from\":\"b\"}");
        await poll.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal([(1UL, "{\"from\":\"b\"}")], poller.Received[channel]);
        await Poll.UntilAsync(() => Task.FromResult(broker.SubscribedChannelCount == 0), "node a leaves the channel in Redis");
    }

    [Fact]
    public async Task An_aborted_poll_leaves_no_waiter_and_no_redis_subscription_behind()
    {
        await using var a = await StartNodeAsync(Prefix(), "node-a");
        var channel = "lp:" + Guid.NewGuid().ToString("N");
        var (_, start) = await LongPollClient.SendAsync(a.BaseAddress, $"{{\"channels\":{{\"{channel}\":{{}}}}}}");
        var epoch = start.GetProperty("channels").GetProperty(channel).GetProperty("epoch").GetString();
        var broker = (RedisBroker)a.Node.Broker;
        using var abort = new CancellationTokenSource();
        var poll = LongPollClient.SendAsync(a.BaseAddress, $"{{\"channels\":{{\"{channel}\":{{\"epoch\":\"{epoch}\",\"offset\":0}}}}}}", abort.Token);
        await Poll.UntilAsync(() => Task.FromResult(a.Node.Hub.Waiters.PollCount == 1 && broker.SubscribedChannelCount == 1), "the poll waits, subscribed in Redis");

        await abort.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => poll);
        await Poll.UntilAsync(() => Task.FromResult(a.Node.Hub.Waiters.PollCount == 0 && a.Node.Hub.Waiters.ChannelCount == 0 && broker.SubscribedChannelCount == 0), "waiter and subscription gone");
        Assert.Empty(a.Errors.Entries);
    }

    [Fact]
    public async Task A_websocket_subscriber_keeps_the_redis_subscription_a_finished_poll_shared()
    {
        await using var a = await StartNodeAsync(Prefix(), "node-a");
        var channel = "lp:" + Guid.NewGuid().ToString("N");
        var broker = (RedisBroker)a.Node.Broker;
        var poller = new LongPollClient(channel);
        await poller.PollAsync(a.BaseAddress, 0);
        var poll = poller.PollAsync(a.BaseAddress, 25_000);
        await Poll.UntilAsync(() => Task.FromResult(a.Node.Hub.Waiters.PollCount == 1 && a.Node.Hub.Waiters.Has(channel)), "the poll waits");

        await using var subscriber = await a.ConnectAsync();
        await subscriber.CommandAsync($"\"subscribe\":{{\"channel\":\"{channel}\"}}");
        await LongPollServers.PublishAsync(a, channel, "{\"n\":1}");
        await poll.WaitAsync(TimeSpan.FromSeconds(20));
        await Poll.UntilAsync(() => Task.FromResult(a.Node.Hub.Waiters.ChannelCount == 0), "the waiter is gone");

        // The poll is over, the subscriber is not: the node still receives the channel.
        Assert.Equal(1, broker.SubscribedChannelCount);
        await LongPollServers.PublishAsync(a, channel, "{\"n\":2}");
        Assert.Contains("\"n\":1", (await subscriber.NextPushAsync()).ToString(), StringComparison.Ordinal);
        Assert.Contains("\"n\":2", (await subscriber.NextPushAsync()).ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await LongPollClient.SendAsync(a.BaseAddress, $"{{\"channels\":{{\"{channel}\":{{}}}}}}")).Status);
    }
}

namespace Switchboard.Client.Tests;

[Collection(ServerCollection.Name)]
public sealed class SubscriptionTests(TestServer server)
{
    [Fact]
    public async Task Receives_api_publications_in_order()
    {
        await using var client = server.Client();
        await client.ConnectAsync();
        var sub = client.NewSubscription("plain:ordered");
        var reader = sub.ReadAllAsync().GetAsyncEnumerator();
        var events = new List<int>();
        var twentieth = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sub.Publication += (_, e) =>
        {
            events.Add(e.Publication.N());
            if (events.Count == 20)
            {
                twentieth.TrySetResult();
            }
        };
        await sub.SubscribeAsync();
        Assert.Equal(SubscriptionState.Subscribed, sub.State);
        using var api = server.Api();
        for (var n = 1; n <= 20; n++)
        {
            await Api.PublishAsync(api, "plain:ordered", n);
        }
        Assert.Equal(Enumerable.Range(1, 20), (await Waiting.TakeAsync(reader, 20)).Select(p => p.N()));
        await twentieth.Task.WaitAsync(Waiting.Timeout);
        Assert.Equal(Enumerable.Range(1, 20), events);
        await reader.DisposeAsync();
    }

    [Fact]
    public async Task Publishes_from_the_client_and_receives_its_own_publication()
    {
        await using var client = server.Client(server.Token("pia"));
        await client.ConnectAsync();
        var sub = client.NewSubscription("chat:own");
        var reader = sub.ReadAllAsync().GetAsyncEnumerator();
        await sub.SubscribeAsync();
        await client.PublishAsync("chat:own", Waiting.Json("{\"n\":42}"));
        var publication = Assert.Single(await Waiting.TakeAsync(reader, 1));
        Assert.Equal(42, publication.N());
        Assert.Equal("pia", publication.Info?.User);
        Assert.True(publication.Offset > 0);
        await reader.DisposeAsync();
    }

    [Fact]
    public async Task Reports_joins_and_leaves()
    {
        await using var watcher = server.Client(server.Token("wendy"));
        await using var visitor = server.Client(server.Token("victor"));
        await Task.WhenAll(watcher.ConnectAsync(), visitor.ConnectAsync());
        var watching = watcher.NewSubscription("chat:lobby", new SubscriptionOptions { JoinLeave = true });
        await watching.SubscribeAsync();
        var joined = Waiting.Next<PresenceEventArgs>(h => watching.Join += h, e => e.Info.User == "victor");
        var left = Waiting.Next<PresenceEventArgs>(h => watching.Leave += h, e => e.Info.User == "victor");
        var visiting = visitor.NewSubscription("chat:lobby");
        await visiting.SubscribeAsync();
        Assert.Equal(visitor.ClientId, (await joined).Info.Client);
        await visiting.UnsubscribeAsync();
        Assert.Equal(visitor.ClientId, (await left).Info.Client);
    }

    [Fact]
    public async Task A_private_channel_subscribes_with_a_token_from_GetToken()
    {
        await using var client = server.Client(server.Token("sam"));
        await client.ConnectAsync();
        var asked = new List<string>();
        var sub = client.NewSubscription("$secret:vault", new SubscriptionOptions
        {
            GetToken = (channel, _) =>
            {
                asked.Add(channel);
                return ValueTask.FromResult(Tokens.Subscription("sam", channel, server.Time.GetUtcNow()));
            },
        });
        var subscribed = Waiting.Next<SubscribedEventArgs>(h => sub.Subscribed += h);
        var reader = sub.ReadAllAsync().GetAsyncEnumerator();
        await sub.SubscribeAsync();
        Assert.Equal(["$secret:vault"], asked);
        Assert.True((await subscribed).Recoverable);
        using var api = server.Api();
        await Api.PublishAsync(api, "$secret:vault", 1);
        Assert.Equal(1, Assert.Single(await Waiting.TakeAsync(reader, 1)).N());
        await reader.DisposeAsync();
    }

    [Fact]
    public async Task A_private_channel_without_a_token_is_refused_and_unsubscribed()
    {
        await using var client = server.Client(server.Token("sid"));
        await client.ConnectAsync();
        var sub = client.NewSubscription("$secret:closed");
        var unsubscribed = Waiting.Next<UnsubscribedEventArgs>(h => sub.Unsubscribed += h, e => e.Code != 0);
        var error = await Assert.ThrowsAsync<SwitchboardException>(() => sub.SubscribeAsync());
        Assert.Equal(ErrorCodes.PermissionDenied, error.Code);
        Assert.Equal((int)ErrorCodes.PermissionDenied, (await unsubscribed).Code);
        Assert.Equal(SubscriptionState.Unsubscribed, sub.State);
    }

    [Fact]
    public async Task Recovers_every_publication_missed_while_reconnecting_exactly_once_in_order()
    {
        var time = new WatchedTime();
        var delay = TimeSpan.FromMinutes(1);
        await using var client = server.Client(server.Token("rob"), o =>
        {
            o.TimeProvider = time;
            o.MinReconnectDelay = delay;
            o.MaxReconnectDelay = delay;
        });
        await client.ConnectAsync();
        var sub = client.NewSubscription("chat:recover");
        var reader = sub.ReadAllAsync().GetAsyncEnumerator();
        await sub.SubscribeAsync();
        using var api = server.Api();
        await Api.PublishAsync(api, "chat:recover", 1);
        await Api.PublishAsync(api, "chat:recover", 2);
        Assert.Equal([1, 2], (await Waiting.TakeAsync(reader, 2)).Select(p => p.N()));

        var waitingToReconnect = time.TimerCreated(delay);
        var resubscribing = Waiting.Next<SubscribingEventArgs>(h => sub.Subscribing += h);
        var resubscribed = Waiting.Next<SubscribedEventArgs>(h => sub.Subscribed += h);
        await Api.DisconnectAsync(api, "rob", 3011);
        Assert.Equal(3011, (await resubscribing).Code);
        await waitingToReconnect;
        for (var n = 3; n <= 7; n++)
        {
            await Api.PublishAsync(api, "chat:recover", n);
        }
        time.Advance(delay);
        // Live publications race the resubscribe: each must still arrive once, after the recovered ones.
        for (var n = 8; n <= 12; n++)
        {
            await Api.PublishAsync(api, "chat:recover", n);
        }

        var result = await resubscribed;
        Assert.True(result.WasRecovering);
        Assert.True(result.Recovered);
        await Api.PublishAsync(api, "chat:recover", 13);
        Assert.Equal(Enumerable.Range(3, 11), (await Waiting.TakeAsync(reader, 11)).Select(p => p.N()));
        Assert.Equal(13ul, sub.Position?.Offset);
        await reader.DisposeAsync();
    }

    [Fact]
    public async Task A_server_unsubscribe_below_2500_leaves_it_unsubscribed()
    {
        await using var client = server.Client(server.Token("una"));
        await client.ConnectAsync();
        var sub = client.NewSubscription("chat:kicked");
        await sub.SubscribeAsync();
        var unsubscribed = Waiting.Next<UnsubscribedEventArgs>(h => sub.Unsubscribed += h);
        using var api = server.Api();
        await Api.PostAsync(api, "unsubscribe", "{\"user\":\"una\",\"channel\":\"chat:kicked\"}");
        Assert.Equal(UnsubscribeCodes.ServerUnsubscribe, (await unsubscribed).Code);
        Assert.Equal(SubscriptionState.Unsubscribed, sub.State);
    }

    [Fact]
    public async Task Subscribing_before_connecting_subscribes_once_connected()
    {
        await using var client = server.Client(server.Token("ben"));
        var sub = client.NewSubscription("chat:early");
        var subscribe = sub.SubscribeAsync();
        Assert.Equal(SubscriptionState.Subscribing, sub.State);
        await client.ConnectAsync();
        await subscribe;
        Assert.Equal(SubscriptionState.Subscribed, sub.State);
        Assert.Throws<InvalidOperationException>(() => client.NewSubscription("chat:early"));
    }
}

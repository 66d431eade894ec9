using System.Collections.Concurrent;

namespace Switchboard.Client.Tests;

/// <summary>
/// Token expiry: the server checks tokens against its fake clock and ends an expired connection
/// (3005) or subscription (2501) 25 s after the expiry; the client refreshes on its own fake clock.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class RefreshTests(TestServer server)
{
    // Past a 10 s token's expiry + the server's 25 s grace (ExpiredCloseDelay, ExpiredSubCloseDelay).
    private const int PastExpiry = 10 + 25 + 2;

    [Fact]
    public async Task Refreshes_the_connection_token_before_it_expires_and_stays_connected()
    {
        var time = new WatchedTime();
        var calls = 0;
        await using var client = server.Client(server.Token("rex", ttlSeconds: 10), o =>
        {
            o.TimeProvider = time;
            o.GetToken = _ =>
            {
                Interlocked.Increment(ref calls);
                return ValueTask.FromResult(server.Token("rex"));
            };
        });
        await client.ConnectAsync();
        var clientId = client.ClientId;
        var interruptions = new ConcurrentQueue<int>();
        client.Connecting += (_, e) => interruptions.Enqueue(e.Code);
        client.Disconnected += (_, e) => interruptions.Enqueue(e.Code);

        // The refresh is due ahead of the 10 s expiry; its reply (an hour to live) schedules the next.
        var refreshed = time.TimerCreated(due => due > TimeSpan.FromMinutes(30));
        time.Advance(TimeSpan.FromSeconds(10));
        await refreshed;
        Assert.Equal(1, Volatile.Read(ref calls));

        await server.AdvanceAsync(client, PastExpiry);
        var echo = await client.RpcAsync("echo", Waiting.Json("1")).WaitAsync(Waiting.Timeout);
        Assert.Equal("rex", echo.GetProperty("user").GetString());
        Assert.Equal(ClientState.Connected, client.State);
        Assert.Equal(clientId, client.ClientId);
        Assert.Empty(interruptions);
        Assert.Equal(1, Volatile.Read(ref calls));
    }

    [Fact]
    public async Task Without_GetToken_an_expired_connection_ends_for_good()
    {
        // The counterpart of the test above: its setup really lets the connection expire.
        var time = new WatchedTime();
        var delay = TimeSpan.FromMinutes(1);
        await using var client = server.Client(server.Token("rhea", ttlSeconds: 10), o =>
        {
            o.TimeProvider = time;
            o.MinReconnectDelay = delay;
            o.MaxReconnectDelay = delay;
        });
        await client.ConnectAsync();
        var connecting = Waiting.Next<ConnectingEventArgs>(h => client.Connecting += h);
        var connected = new ConcurrentQueue<string>();
        client.Connected += (_, e) => connected.Enqueue(e.ClientId);
        var disconnected = Waiting.Next<DisconnectedEventArgs>(h => client.Disconnected += h);
        await server.AdvanceAsync(client, 10 + 25 - 1);
        Assert.False(connecting.IsCompleted);
        var waitingToReconnect = time.TimerCreated(delay);
        server.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(3005, (await connecting).Code);

        // The reconnect presents the expired token (109); with no GetToken to ask for another, the
        // client stops rather than connect anonymously.
        await waitingToReconnect;
        time.Advance(delay);
        Assert.Equal((int)ErrorCodes.TokenExpired, (await disconnected).Code);
        Assert.Equal(ClientState.Disconnected, client.State);
        Assert.Empty(connected);
    }

    [Fact]
    public async Task Refreshes_a_subscription_token_before_it_expires_and_stays_subscribed()
    {
        var time = new WatchedTime();
        await using var client = server.Client(server.Token("sue"), o => o.TimeProvider = time);
        await client.ConnectAsync();
        var asked = 0;
        var sub = client.NewSubscription("$secret:refresh", new SubscriptionOptions
        {
            GetToken = (channel, _) => ValueTask.FromResult(Tokens.Subscription("sue", channel, server.Time.GetUtcNow(), Interlocked.Increment(ref asked) == 1 ? 10 : 3600)),
        });
        var reader = sub.ReadAllAsync().GetAsyncEnumerator();
        await sub.SubscribeAsync();
        var interruptions = new ConcurrentQueue<int>();
        sub.Subscribing += (_, e) => interruptions.Enqueue(e.Code);
        sub.Unsubscribed += (_, e) => interruptions.Enqueue(e.Code);

        var refreshed = time.TimerCreated(due => due > TimeSpan.FromMinutes(30));
        time.Advance(TimeSpan.FromSeconds(10));
        await refreshed;
        Assert.Equal(2, Volatile.Read(ref asked));

        await server.AdvanceAsync(client, PastExpiry);
        Assert.Equal(SubscriptionState.Subscribed, sub.State);
        Assert.Empty(interruptions);
        using var api = server.Api();
        await Api.PublishAsync(api, "$secret:refresh", 1);
        Assert.Equal(1, Assert.Single(await Waiting.TakeAsync(reader, 1)).N());
        Assert.Empty(interruptions);
        await reader.DisposeAsync();
    }

    [Fact]
    public async Task Resubscribes_by_itself_after_the_server_ends_an_expired_subscription()
    {
        // No refresh (the client's fake clock stays put): the server ends the subscription with 2501.
        var time = new WatchedTime();
        await using var client = server.Client(server.Token("ursula"), o => o.TimeProvider = time);
        await client.ConnectAsync();
        var asked = 0;
        var sub = client.NewSubscription("$secret:resubscribe", new SubscriptionOptions
        {
            GetToken = (channel, _) => ValueTask.FromResult(Tokens.Subscription("ursula", channel, server.Time.GetUtcNow(), Interlocked.Increment(ref asked) == 1 ? 10 : 3600)),
        });
        var reader = sub.ReadAllAsync().GetAsyncEnumerator();
        await sub.SubscribeAsync();
        var unsubscribed = new ConcurrentQueue<int>();
        sub.Unsubscribed += (_, e) => unsubscribed.Enqueue(e.Code);
        var errors = new ConcurrentQueue<Exception>();
        sub.Error += (_, e) => errors.Enqueue(e.Exception);
        var resubscribing = Waiting.Next<SubscribingEventArgs>(h => sub.Subscribing += h);
        var resubscribed = Waiting.Next<SubscribedEventArgs>(h => sub.Subscribed += h);

        await server.AdvanceAsync(client, PastExpiry);
        Assert.Equal(2501, (await resubscribing).Code);
        await resubscribed;
        Assert.Equal(SubscriptionState.Subscribed, sub.State);
        Assert.Equal(2, Volatile.Read(ref asked));
        Assert.Empty(unsubscribed);
        // The expired token is not tried again (that cost a round trip and a 109 error).
        Assert.Empty(errors);
        using var api = server.Api();
        await Api.PublishAsync(api, "$secret:resubscribe", 1);
        Assert.Equal(1, Assert.Single(await Waiting.TakeAsync(reader, 1)).N());
        await reader.DisposeAsync();
    }
}

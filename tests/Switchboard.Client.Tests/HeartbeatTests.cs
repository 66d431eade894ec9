using System.Collections.Concurrent;

namespace Switchboard.Client.Tests;

[Collection(ServerCollection.Name)]
public sealed class HeartbeatTests(TestServer server)
{
    [Fact]
    public async Task Answers_server_pings_and_stays_connected_past_the_pong_timeout()
    {
        await using var client = server.Client(server.Token("pong"));
        await client.ConnectAsync();
        var clientId = client.ClientId;
        var interruptions = new ConcurrentQueue<int>();
        client.Connecting += (_, e) => interruptions.Enqueue(e.Code);
        client.Disconnected += (_, e) => interruptions.Enqueue(e.Code);
        var pinged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.PingAnswered += () => pinged.TrySetResult();

        // The server pings every 25 s (default); its heartbeat sweeps once a (fake) second.
        for (var s = 0; s < 25; s++)
        {
            server.Time.Advance(TimeSpan.FromSeconds(1));
        }
        await pinged.Task.WaitAsync(Waiting.Timeout);
        // The pong was queued before PingAnswered: a command sent now reaches the server after it,
        // so its reply proves the server has handled the pong.
        await client.RpcAsync("echo", Waiting.Json("1"));

        // Past the pong timeout (8 s): without the pong the server would have closed with 3012.
        for (var s = 0; s < 10; s++)
        {
            server.Time.Advance(TimeSpan.FromSeconds(1));
        }
        var echo = await client.RpcAsync("echo", Waiting.Json("2"));
        Assert.Equal("pong", echo.GetProperty("user").GetString());
        Assert.Equal(ClientState.Connected, client.State);
        Assert.Equal(clientId, client.ClientId);
        Assert.Empty(interruptions);
    }

    [Fact]
    public async Task Answers_every_ping_of_a_server_with_a_shorter_interval()
    {
        var fast = new TestServer("--Switchboard:Client:PingInterval=00:00:03", "--Switchboard:Client:PongTimeout=00:00:02");
        await fast.InitializeAsync();
        try
        {
            await using var client = fast.Client(fast.Token("fast"));
            await client.ConnectAsync();
            var clientId = client.ClientId;
            var interruptions = new ConcurrentQueue<int>();
            client.Connecting += (_, e) => interruptions.Enqueue(e.Code);
            var pings = 0;
            client.PingAnswered += () => Interlocked.Increment(ref pings);

            // 30 s: ten pings, each answered before its 2 s deadline.
            await fast.AdvanceAsync(client, 30);
            Assert.Equal(10, Volatile.Read(ref pings));
            Assert.Equal(ClientState.Connected, client.State);
            Assert.Equal(clientId, client.ClientId);
            Assert.Empty(interruptions);
        }
        finally
        {
            await fast.DisposeAsync();
        }
    }

    [Fact]
    public async Task Server_pings_keep_the_connection_alive_on_the_clients_clock()
    {
        var time = new WatchedTime();
        await using var client = server.Client(server.Token("kept"), o => o.TimeProvider = time);
        await client.ConnectAsync();
        var clientId = client.ClientId;
        var interruptions = new ConcurrentQueue<int>();
        client.Connecting += (_, e) => interruptions.Enqueue(e.Code);
        var pinged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.PingAnswered += () => pinged.TrySetResult();

        // 30 s of silence on the client's clock (it tolerates 25 s + 10 s), then a server ping.
        time.Advance(TimeSpan.FromSeconds(30));
        for (var s = 0; s < 25; s++)
        {
            server.Time.Advance(TimeSpan.FromSeconds(1));
        }
        await pinged.Task.WaitAsync(Waiting.Timeout);
        // 60 s since the connect, 30 s since the ping: the ping restarted the watch.
        time.Advance(TimeSpan.FromSeconds(30));
        var echo = await client.RpcAsync("echo", Waiting.Json("1")).WaitAsync(Waiting.Timeout);
        Assert.Equal("kept", echo.GetProperty("user").GetString());
        Assert.Equal(clientId, client.ClientId);
        Assert.Empty(interruptions);
    }

    [Fact]
    public async Task Reconnects_by_itself_when_the_server_stops_pinging()
    {
        var time = new WatchedTime();
        var delay = TimeSpan.FromMinutes(1);
        await using var client = server.Client(server.Token("silent"), o =>
        {
            o.TimeProvider = time;
            o.MinReconnectDelay = delay;
            o.MaxReconnectDelay = delay;
        });
        // The connect result says ping 25: silence is tolerated for 25 s + MaxServerPingDelay (10 s).
        var watching = time.TimerCreated(TimeSpan.FromSeconds(35));
        await client.ConnectAsync();
        await watching;
        var clientId = client.ClientId;
        var connecting = Waiting.Next<ConnectingEventArgs>(h => client.Connecting += h);
        var reconnected = Waiting.Next<ConnectedEventArgs>(h => client.Connected += h);

        // 34 s of silence: still the same connection (the reply is traffic, which restarts the watch).
        time.Advance(TimeSpan.FromSeconds(34));
        // (The command's own timeout runs on the fake clock too: bound the wait on the real one.)
        var echo = await client.RpcAsync("echo", Waiting.Json("1")).WaitAsync(Waiting.Timeout);
        Assert.Equal("silent", echo.GetProperty("user").GetString());
        Assert.Equal(clientId, client.ClientId);
        Assert.False(connecting.IsCompleted);

        var waitingToReconnect = time.TimerCreated(delay);
        time.Advance(TimeSpan.FromSeconds(35));
        Assert.Equal(DisconnectCodes.NoPing, (await connecting).Code);
        await waitingToReconnect;
        time.Advance(delay);
        Assert.NotEqual(clientId, (await reconnected).ClientId);
        Assert.Equal(ClientState.Connected, client.State);
    }
}

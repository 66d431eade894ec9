namespace Switchboard.Client.Tests;

[Collection(ServerCollection.Name)]
public sealed class ConnectionTests(TestServer server)
{
    [Fact]
    public async Task Connects_anonymously()
    {
        await using var client = server.Client();
        var connected = Waiting.Next<ConnectedEventArgs>(h => client.Connected += h);
        await client.ConnectAsync();
        Assert.Equal(ClientState.Connected, client.State);
        Assert.False(string.IsNullOrEmpty((await connected).ClientId));
        Assert.Equal(client.ClientId, (await connected).ClientId);
    }

    [Fact]
    public async Task Connects_with_a_token_as_its_user()
    {
        await using var client = server.Client(server.Token("ada"));
        await client.ConnectAsync();
        var echo = await client.RpcAsync("echo", Waiting.Json("{\"x\":1}"));
        Assert.Equal("ada", echo.GetProperty("user").GetString());
    }

    [Fact]
    public async Task An_expired_token_at_connect_is_replaced_through_GetToken()
    {
        var calls = 0;
        await using var client = server.Client(Tokens.Connection("eve", server.Time.GetUtcNow(), ttlSeconds: -10), o => o.GetToken = _ =>
        {
            Interlocked.Increment(ref calls);
            return ValueTask.FromResult(server.Token("eve"));
        });
        var error = Waiting.Next<SwitchboardErrorEventArgs>(h => client.Error += h);
        await client.ConnectAsync();
        Assert.Equal(ClientState.Connected, client.State);
        Assert.Equal(1, calls);
        Assert.Equal(ErrorCodes.TokenExpired, Assert.IsType<SwitchboardException>((await error).Exception).Code);
    }

    [Fact]
    public async Task Without_a_token_GetToken_provides_one()
    {
        await using var client = server.Client(configure: o => o.GetToken = _ => ValueTask.FromResult(server.Token("gus")));
        await client.ConnectAsync();
        var echo = await client.RpcAsync("echo", Waiting.Json("null"));
        Assert.Equal("gus", echo.GetProperty("user").GetString());
    }

    [Fact]
    public async Task Reconnects_by_itself_after_a_reconnect_code()
    {
        await using var client = server.Client(server.Token("rita"));
        await client.ConnectAsync();
        var firstId = client.ClientId;
        var connecting = Waiting.Next<ConnectingEventArgs>(h => client.Connecting += h);
        var reconnected = Waiting.Next<ConnectedEventArgs>(h => client.Connected += h);
        using var api = server.Api();
        await Api.DisconnectAsync(api, "rita", 3011);
        Assert.Equal(3011, (await connecting).Code);
        Assert.NotEqual(firstId, (await reconnected).ClientId);
        Assert.Equal(ClientState.Connected, client.State);
    }

    [Fact]
    public async Task Stays_disconnected_after_a_terminal_code()
    {
        await using var client = server.Client(server.Token("tom"));
        await client.ConnectAsync();
        var disconnected = Waiting.Next<DisconnectedEventArgs>(h => client.Disconnected += h);
        using var api = server.Api();
        await Api.DisconnectAsync(api, "tom", 3503);
        Assert.Equal(3503, (await disconnected).Code);
        Assert.Equal(ClientState.Disconnected, client.State);
        // Not connecting: a command fails at once instead of waiting for a connection.
        var error = await Assert.ThrowsAsync<SwitchboardException>(() => client.RpcAsync("echo", default));
        Assert.Equal(ErrorCodes.ClientDisconnected, error.Code);
    }

    [Fact]
    public async Task Disconnect_stops_the_client_and_connect_starts_it_again()
    {
        await using var client = server.Client();
        await client.ConnectAsync();
        var disconnected = Waiting.Next<DisconnectedEventArgs>(h => client.Disconnected += h);
        await client.DisconnectAsync();
        Assert.Equal(DisconnectCodes.DisconnectCalled, (await disconnected).Code);
        Assert.Equal(ClientState.Disconnected, client.State);
        await client.ConnectAsync();
        Assert.Equal(ClientState.Connected, client.State);
    }

    [Fact]
    public async Task Commands_issued_while_connecting_wait_for_the_connection()
    {
        await using var client = server.Client();
        var connect = client.ConnectAsync();
        var answer = client.RpcAsync("echo", Waiting.Json("7"));
        await connect;
        Assert.Equal(7, (await answer).GetProperty("data").GetInt32());
    }

    [Fact]
    public async Task The_reconnect_delay_runs_on_the_clients_clock()
    {
        var time = new WatchedTime();
        var delay = TimeSpan.FromMinutes(5);
        await using var client = server.Client(server.Token("tim"), o =>
        {
            o.TimeProvider = time;
            o.MinReconnectDelay = delay;
            o.MaxReconnectDelay = delay;
        });
        await client.ConnectAsync();
        var waiting = time.TimerCreated(delay);
        var reconnected = Waiting.Next<ConnectedEventArgs>(h => client.Connected += h);
        using var api = server.Api();
        await Api.DisconnectAsync(api, "tim", 3011);
        await waiting;
        Assert.Equal(ClientState.Connecting, client.State);
        time.Advance(delay);
        await reconnected;
        Assert.Equal(ClientState.Connected, client.State);
    }

    [Fact]
    public async Task A_token_the_server_rejects_disconnects_for_good()
    {
        var forged = Tokens.Jwt($"{{\"sub\":\"mallory\",\"exp\":{server.Time.GetUtcNow().ToUnixTimeSeconds() + 3600}}}", secret: "not-the-servers-secret-0123456789-abc");
        await using var client = server.Client(forged);
        var disconnected = Waiting.Next<DisconnectedEventArgs>(h => client.Disconnected += h);
        var error = await Assert.ThrowsAsync<SwitchboardException>(() => client.ConnectAsync());
        Assert.Equal(3500u, error.Code);
        Assert.Equal(3500, (await disconnected).Code);
        Assert.Equal(ClientState.Disconnected, client.State);
    }
}

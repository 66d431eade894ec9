using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Server.Hosting;
using Switchboard.Sessions;

namespace Switchboard.Client.Tests;

/// <summary>
/// The real server, in process, on a free loopback port, with a fake clock (tokens are checked
/// against it; its pings never fire unless a test advances it). Same shape as the functional tests' fixture.
/// </summary>
public sealed class TestServer : IAsyncLifetime
{
    public const string ApiKey = "client-test-api-key-0123456789";
    public const string Secret = "client-test-hmac-secret-0123456789-xyz";

    private readonly string[] _extraArguments;
    private WebApplication? _app;

    /// <summary>The shared server of the test collection.</summary>
    public TestServer()
        : this([])
    {
    }

    /// <summary>
    /// A server of its own with extra configuration (e.g. <c>--Switchboard:Client:PingInterval=00:00:05</c>),
    /// for a test to start with <see cref="InitializeAsync"/> and stop with <see cref="DisposeAsync"/>.
    /// Internal: xUnit wants a single public constructor on a fixture.
    /// </summary>
    internal TestServer(params string[] extraArguments) => _extraArguments = extraArguments;

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    public Uri BaseAddress { get; private set; } = null!;

    public Uri WebSocketUri => new($"ws://{BaseAddress.Authority}/connection/websocket");

    private string[] Arguments =>
    [
        "--urls", "http://127.0.0.1:0",
        "--Switchboard:Api:Key=" + ApiKey,
        "--Switchboard:Token:HmacSecretKey=" + Secret,
        "--Switchboard:Client:AllowAnonymousConnectWithoutToken=true",
        "--Switchboard:Namespaces:chat:Presence=true",
        "--Switchboard:Namespaces:chat:JoinLeave=true",
        "--Switchboard:Namespaces:chat:HistorySize=100",
        "--Switchboard:Namespaces:chat:HistoryTtl=00:10:00",
        "--Switchboard:Namespaces:chat:ForceRecovery=true",
        "--Switchboard:Namespaces:chat:AllowSubscribeForClient=true",
        "--Switchboard:Namespaces:chat:AllowPublishForSubscriber=true",
        "--Switchboard:Namespaces:chat:AllowHistoryForSubscriber=true",
        "--Switchboard:Namespaces:chat:AllowPresenceForSubscriber=true",
        "--Switchboard:Namespaces:plain:AllowSubscribeForClient=true",
        "--Switchboard:Namespaces:plain:AllowSubscribeForAnonymous=true",
        "--Switchboard:Namespaces:plain:AllowPublishForClient=true",
        "--Switchboard:Namespaces:plain:AllowPublishForAnonymous=true",
        "--Switchboard:Namespaces:secret:HistorySize=10",
        "--Switchboard:Namespaces:secret:HistoryTtl=00:10:00",
        "--Switchboard:Namespaces:secret:ForceRecovery=true",
        "--Logging:LogLevel:Default=Warning",
        "--Switchboard:Drain:Window=00:00:00",
        .. _extraArguments,
    ];

    public async Task InitializeAsync()
    {
        _app = SwitchboardApp.Build(Arguments, services =>
        {
            services.AddSingleton<TimeProvider>(Time);
            services.AddSingleton<IRpcHandler, EchoRpcHandler>();
            services.AddSingleton<ISendHandler, ReplyingSendHandler>();
        });
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    /// <summary>A connection token for <paramref name="user"/>, valid an hour on the server's clock.</summary>
    public string Token(string user, int ttlSeconds = 3600) => Tokens.Connection(user, Time.GetUtcNow(), ttlSeconds);

    /// <summary>A client of this server (not connected yet).</summary>
    public SwitchboardClient Client(string? token = null, Action<SwitchboardClientOptions>? configure = null)
    {
        var options = new SwitchboardClientOptions { Token = token, Name = "client-tests" };
        configure?.Invoke(options);
        return new SwitchboardClient(WebSocketUri, options);
    }

    /// <summary>
    /// Advances the server's clock by <paramref name="seconds"/>, one second at a time (its heartbeat
    /// sweeps once a fake second), with two commands of <paramref name="client"/> going round after
    /// each second. The server handles a connection's messages in order: a ping sent in that second
    /// reaches the client before the first reply, the client queues its pong before it handles that
    /// reply, so the second command goes out after the pong and its reply proves the pong handled —
    /// before the next second can reach the pong deadline.
    /// </summary>
    public async Task AdvanceAsync(SwitchboardClient client, int seconds)
    {
        for (var i = 0; i < seconds; i++)
        {
            Time.Advance(TimeSpan.FromSeconds(1));
            await client.RpcAsync("echo", Waiting.Json("0")).WaitAsync(Waiting.Timeout);
            await client.RpcAsync("echo", Waiting.Json("0")).WaitAsync(Waiting.Timeout);
        }
    }

    public HttpClient Api()
    {
        var http = new HttpClient { BaseAddress = BaseAddress };
        http.DefaultRequestHeaders.Add("X-API-Key", ApiKey);
        return http;
    }
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<TestServer>
{
    public const string Name = "server";
}

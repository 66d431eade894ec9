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

    private WebApplication? _app;

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    public Uri BaseAddress { get; private set; } = null!;

    public Uri WebSocketUri => new($"ws://{BaseAddress.Authority}/connection/websocket");

    private static string[] Arguments =>
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

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Server.Hosting;
using Switchboard.Sessions;

namespace Switchboard.FunctionalTests;

/// <summary>
/// The real server, in process, on a free loopback port, with a fake clock the tests advance.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime, IAsyncDisposable
{
    private readonly string[] _extraArguments;

    public ServerFixture() : this([])
    {
    }

    private ServerFixture(string[] extraArguments) => _extraArguments = extraArguments;

    /// <summary>Starts a server of its own with extra settings (later arguments win).</summary>
    public static async Task<ServerFixture> StartAsync(params string[] extraArguments)
    {
        var server = new ServerFixture(extraArguments);
        await server.InitializeAsync();
        return server;
    }

    /// <summary>Errors the server logged: an exception that escaped to the host shows up here.</summary>
    public ErrorLog Errors { get; } = new();

    internal WebApplication App => _app!;

    public const string ApiKey = "functional-test-api-key-0123456789";
    public const string Secret = "functional-test-hmac-secret-0123456789-xyz";

    private WebApplication? _app;

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    public Uri BaseAddress { get; private set; } = null!;

    public Uri WebSocketUri => new($"ws://{BaseAddress.Authority}/connection/websocket");

    internal Node Node => _app!.Services.GetRequiredService<Node>();

    public static string[] Arguments =>
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
        // The clock is fake: a drain window would only end by the host's timeout. Drain tests set their own.
        "--Switchboard:Drain:Window=00:00:00",
    ];

    public async Task InitializeAsync()
    {
        _app = SwitchboardApp.Build([.. Arguments, .. _extraArguments], services =>
        {
            services.AddSingleton<ILoggerProvider>(Errors);
            services.AddSingleton<TimeProvider>(Time);
            services.AddSingleton<IRpcHandler, EchoRpcHandler>();
            services.AddSingleton<IRpcHandler, RefusingRpcHandler>();
            services.AddSingleton<ISendHandler, ReplyingSendHandler>();
        });
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            var lifetime = _app.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>();
            if (!lifetime.ApplicationStopped.IsCancellationRequested)
            {
                await _app.StopAsync();
            }
            await _app.DisposeAsync();
            _app = null;
        }
    }

    public async Task<RawClient> ConnectAsync(string? token = null)
    {
        var client = await RawClient.OpenAsync(WebSocketUri);
        var reply = await client.CommandAsync(token is null ? "\"connect\":{}" : $"\"connect\":{{\"token\":\"{token}\"}}");
        Assert.True(reply.TryGetProperty("connect", out _), reply.ToString());
        return client;
    }

    public HttpClient Api()
    {
        var http = new HttpClient { BaseAddress = BaseAddress };
        http.DefaultRequestHeaders.Add("X-API-Key", ApiKey);
        return http;
    }
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "server";
}

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Server.Hosting;

namespace Switchboard.Testing;

/// <summary>
/// The real server, in process, on a free loopback port, with a fake clock the tests advance
/// (tokens are checked against it; its heartbeat only runs when it moves). Shared, as a linked
/// source file, by every .NET test project that needs a server.
/// </summary>
internal sealed class InProcessServer : IAsyncDisposable
{
    public const string ApiKey = "in-process-test-api-key-0123456789";
    public const string Secret = "in-process-test-hmac-secret-0123456789-xyz";

    /// <summary>The test configuration: an API key, a token secret and the namespaces tests use.</summary>
    public static readonly string[] Arguments =
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
        // Many servers start at once in one test process; the built-in OAuth server (on by
        // default, with its SQLite file under ./data) is off here, and on in its own tests,
        // each with a database of its own.
        "--Switchboard:Identity:Enabled=false",
    ];

    private InProcessServer(WebApplication app, FakeTimeProvider time, Uri baseAddress)
    {
        App = app;
        Time = time;
        BaseAddress = baseAddress;
    }

    public WebApplication App { get; }

    public FakeTimeProvider Time { get; }

    public Uri BaseAddress { get; }

    public Uri WebSocketUri => new($"ws://{BaseAddress.Authority}/connection/websocket");

    /// <summary>
    /// Starts a server with the test configuration plus <paramref name="extraArguments"/> (later
    /// ones win); <paramref name="configure"/> may map extra endpoints (as an app module would).
    /// </summary>
    public static async Task<InProcessServer> StartAsync(IEnumerable<string> extraArguments, Action<IServiceCollection>? configureServices = null, Action<WebApplication>? configure = null)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var app = SwitchboardApp.Build([.. Arguments, .. extraArguments], services =>
        {
            services.AddSingleton<TimeProvider>(time);
            configureServices?.Invoke(services);
        });
        configure?.Invoke(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new InProcessServer(app, time, new Uri(address));
    }

    /// <summary>An HTTP client for the server API, with the API key.</summary>
    public HttpClient Api()
    {
        var http = new HttpClient { BaseAddress = BaseAddress };
        http.DefaultRequestHeaders.Add("X-API-Key", ApiKey);
        return http;
    }

    /// <summary>Stops the server (unless a test already did) and releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!App.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.IsCancellationRequested)
        {
            await App.StopAsync();
        }
        await App.DisposeAsync();
    }
}

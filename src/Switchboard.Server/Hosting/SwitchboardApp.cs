using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Scalar.AspNetCore;
using Switchboard.Api;
using Switchboard.Auth;
using Switchboard.Channels;
using Switchboard.Engine;
using Switchboard.Engine.Redis;
using Switchboard.Server.Api;
using Switchboard.Server.Transports;
using Switchboard.Sessions;

namespace Switchboard.Server.Hosting;

/// <summary>Builds and runs the server: configuration, services, endpoints.</summary>
public static class SwitchboardApp
{
    /// <summary>Runs the server until it is stopped; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        WebApplication app;
        try
        {
            app = Build(args);
            await app.StartAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is OptionsValidationException or InvalidOperationException)
        {
            // Bad configuration: say which key, without a stack trace.
            await Console.Error.WriteLineAsync($"Switchboard cannot start: invalid configuration.{Environment.NewLine}{ConfigurationError(e)}").ConfigureAwait(false);
            return 2;
        }
        await app.WaitForShutdownAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
        return 0;
    }

    private static string ConfigurationError(Exception e) => e switch
    {
        OptionsValidationException v => string.Join(Environment.NewLine, v.Failures.Select(f => "  " + f)),
        _ => "  " + e.Message,
    };

    /// <summary>Builds the application; <paramref name="configureServices"/> lets tests replace services (e.g. the clock).</summary>
    public static WebApplication Build(string[] args, Action<IServiceCollection>? configureServices = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        var unknown = ConfigurationKeys.FindUnknown(builder.Configuration.GetSection(SwitchboardOptions.Section));
        if (unknown.Count > 0)
        {
            throw new OptionsValidationException(SwitchboardOptions.Section, typeof(SwitchboardOptions), unknown);
        }
        if (builder.Configuration.GetValue($"{SwitchboardOptions.Section}:Client:{nameof(ClientOptions.WebSocketFastPath)}", true))
        {
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen =>
                listen.Use(next => new WebSocketConnectionMiddleware(next, listen.ApplicationServices).OnConnectionAsync)));
        }
        AddSwitchboard(builder.Services, builder.Configuration);
        configureServices?.Invoke(builder.Services);

        WebApplication app;
        try
        {
            app = builder.Build();
            // Bind and validate now, so a bad key fails here with its name rather than on first use.
            _ = app.Services.GetRequiredService<IOptions<SwitchboardOptions>>().Value;
        }
        catch (InvalidOperationException e) when (e.InnerException is not null)
        {
            // The binder's outer message is generic; the inner one names the key or property.
            throw new InvalidOperationException($"{e.Message} {e.InnerException.Message}", e);
        }
        MapSwitchboard(app);
        return app;
    }

    internal static void AddSwitchboard(IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SwitchboardOptions>()
            .Bind(configuration.GetSection(SwitchboardOptions.Section), o => o.ErrorOnUnknownConfiguration = true)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<SwitchboardOptions>, SwitchboardOptionsValidator>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ChannelPolicy>();
        services.AddSingleton<TokenValidator>();
        services.AddSingleton(sp => new OriginList(sp.GetRequiredService<IOptions<SwitchboardOptions>>().Value.Client.AllowedOrigins));
        services.AddSwitchboardRateLimits();
        Identity.SwitchboardIdentity.AddSwitchboardIdentity(services, configuration);
        AddEngine(services, configuration);
        services.AddSingleton<NodeMetrics>();
        services.AddSingleton(sp => new Handlers(sp));
        services.AddSingleton<Node>();
        services.AddSingleton(sp => new ServerApi(sp.GetRequiredService<Node>()));
        services.AddHostedService<NodeLifetime>();
        // The drain needs its window; the host's default 30 s would cut a longer one short.
        services.AddOptions<HostOptions>().Configure<IOptions<SwitchboardOptions>>((host, sb) =>
            host.ShutdownTimeout = sb.Value.Drain.Window + TimeSpan.FromSeconds(5));
        services.AddHealthChecks()
            .AddCheck<ReadinessCheck>("ready", tags: ["ready"]);
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(NodeMetrics.MeterName)
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "Switchboard server API";
            doc.Info.Description = "Publish, broadcast and manage connections, channels, presence and history. "
                + "Authenticate with the X-API-Key header (or Authorization: apikey <key>).";
            return Task.CompletedTask;
        }));
        services.ConfigureHttpJsonOptions(o =>
        {
            // Also what the OpenAPI document uses to name properties.
            o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default);
        });
    }

    // The engine named by Switchboard:Engine: memory (default, one node) or redis (a cluster node).
    private static void AddEngine(IServiceCollection services, IConfiguration configuration)
    {
        var engine = configuration[$"{SwitchboardOptions.Section}:{nameof(SwitchboardOptions.Engine)}"] ?? "memory";
        if (string.Equals(engine, "redis", StringComparison.OrdinalIgnoreCase))
        {
            services.AddSingleton(sp => RedisEngine.ConnectAsync(
                sp.GetRequiredService<IOptions<SwitchboardOptions>>().Value.Redis,
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILoggerFactory>(),
                CancellationToken.None).GetAwaiter().GetResult());
            services.AddSingleton<IBroker>(sp => sp.GetRequiredService<RedisEngine>().Broker);
            services.AddSingleton<IPresenceManager>(sp => sp.GetRequiredService<RedisEngine>().Presence);
            services.AddSingleton<IClusterControl>(sp => sp.GetRequiredService<RedisEngine>().Control);
            services.AddSingleton<ITokenRevocationStore>(sp => sp.GetRequiredService<RedisEngine>().Revocations);
        }
        else
        {
            services.AddSingleton<IBroker, MemoryBroker>();
            services.AddSingleton<IPresenceManager, MemoryPresenceManager>();
            services.AddSingleton<IClusterControl, MemoryClusterControl>();
            services.AddSingleton<ITokenRevocationStore, MemoryTokenRevocationStore>();
        }
    }

    internal static void MapSwitchboard(WebApplication app)
    {
        app.UseWebSockets();
        app.UseDefaultFiles();
        app.UseStaticFiles();
        // Before the OAuth server, which answers refused token requests (a wrong client secret)
        // from the authentication middleware: every attempt counts against the endpoint's policy.
        app.UseRateLimiter();
        Identity.SwitchboardIdentity.MapSwitchboardIdentity(app);
        app.MapWebSocketTransport();
        app.MapStreamingTransports();
        app.MapEmulationEndpoint();
        app.MapUniWebSocketTransport();
        app.MapLongPollTransport();
        app.MapServerApi();
        app.MapOpenApi();
        app.MapScalarApiReference("/docs", o => o.WithTitle("Switchboard API"));
        // Liveness: the process answers; it never checks dependencies (a restart would not fix them).
        app.MapHealthChecks("/healthz/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/healthz/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") });
        app.MapPrometheusScrapingEndpoint("/metrics");
    }
}
